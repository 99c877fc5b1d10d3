package tokens

// MaxTokenLen bounds the access tokens verified; ours are well under 1 KiB,
// and the bound keeps hostile input away from the JSON decoder.
const MaxTokenLen = 4096

// ParseBearer extracts the token from an Authorization header value of the
// form "Bearer <token>": the scheme in any case, exactly one space, and one
// RFC 6750 b64token (ALPHA DIGIT - . _ ~ + / then any "="). Anything else is
// a malformed header ("Authentication required"); a well-formed header whose
// token is junk or too long is left to Verify ("Invalid token").
func ParseBearer(header string) (token string, ok bool) {
	const scheme = "bearer "
	if len(header) <= len(scheme) {
		return "", false
	}
	for i := range len(scheme) {
		c := header[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != scheme[i] {
			return "", false
		}
	}
	token = header[len(scheme):]
	end := len(token)
	for end > 0 && token[end-1] == '=' {
		end--
	}
	if end == 0 {
		return "", false
	}
	for i := range end {
		if !isTokenByte(token[i]) {
			return "", false
		}
	}
	return token, true
}

func isTokenByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/'
}
