package mail

import (
	"bytes"
	"crypto/rand"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// maxLine is RFC 5322's limit on a line, without its CRLF.
const maxLine = 998

// compose renders a complete plain-text message with CRLF line endings.
// Header values must already be free of line breaks (Message.check).
func compose(from, to *netmail.Address, subject, text string, now time.Time) []byte {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.ReplaceAll(text, "\r", "\n")

	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	header("From", from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+rand.Text()+"@"+domain(from.Address)+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=UTF-8")

	// Plain 7-bit text stays readable in the raw message (links included);
	// anything else is quoted-printable, which every server accepts whatever
	// its 8BITMIME support or line-length limits.
	if isSevenBit(text) {
		header("Content-Transfer-Encoding", "7bit")
		b.WriteString("\r\n")
		b.WriteString(strings.ReplaceAll(text, "\n", "\r\n"))
	} else {
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		qp := quotedprintable.NewWriter(&b)
		qp.Write([]byte(text)) // writes to a bytes.Buffer cannot fail
		qp.Close()
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\r\n")) {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

// isSevenBit reports whether text is ASCII without NUL and no line is too
// long to send unencoded.
func isSevenBit(text string) bool {
	for line := range strings.SplitSeq(text, "\n") {
		if len(line) > maxLine {
			return false
		}
	}
	for i := 0; i < len(text); i++ {
		if text[i] >= utf8.RuneSelf || text[i] == 0 {
			return false
		}
	}
	return true
}

// domain is the part of addr after its last "@", for the Message-ID.
func domain(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		return addr[i+1:]
	}
	return "localhost"
}
