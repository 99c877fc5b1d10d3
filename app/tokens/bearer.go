package tokens

// MaxTokenLen bounds the access tokens read from a request; ours are well
// under 1 KiB, and the bound keeps hostile input away from the JSON decoder.
const MaxTokenLen = 4096

// ParseBearer extracts the token from an Authorization header value of the
// form "Bearer <token>": the scheme in any case, exactly one space, and one
// token of base64url characters and dots, at most MaxTokenLen long.
func ParseBearer(header string) (token string, ok bool) {
	const scheme = "bearer "
	if len(header) <= len(scheme) || len(header) > len(scheme)+MaxTokenLen {
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
	for i := range len(token) {
		if !isTokenByte(token[i]) {
			return "", false
		}
	}
	return token, true
}

func isTokenByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}
