// Package mail implements the privacy.Mailer port twice: Outbox, the standalone
// default, writes each mail as an .eml file into a local folder; SMTP sends it
// through a mail server. Both are called by the notify function for every notice
// it mails; their only side effect is the file written or the mail sent.
//
// A mail's ID becomes its Message-ID (and the outbox file name), so a resend
// after a crash is recognisable: the outbox overwrites the same file, and a
// recipient's mail client can collapse the duplicate.
package mail

import (
	"fmt"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/privops/privops/shared/privacy"
)

// maxIDLen bounds a mail ID: it must fit a file name and a Message-ID header.
const maxIDLen = 200

// checkID reports whether id can name a file and the left part of a
// Message-ID: 1 to 200 of the characters A-Z a-z 0-9 . _ - + =, starting with a
// letter or digit, with no "..". It refuses everything else (path separators,
// traversal, header syntax) instead of mapping it, so two ids never share a file.
func checkID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("send mail: id must have 1 to %d characters", maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("send mail %q: id must start with a letter or digit", id)
		}
		if !alnum && !strings.ContainsRune("._-+=", rune(c)) {
			return fmt.Errorf("send mail %q: id may only hold letters, digits and . _ - + =", id)
		}
	}
	if strings.Contains(id, "..") {
		return fmt.Errorf("send mail %q: id must not contain \"..\"", id)
	}
	return nil
}

// compose builds the MIME message of m: From, To, Subject, Date (now),
// Message-ID <ID@domain>, one text/plain UTF-8 part, quoted-printable. Errors
// never name the addresses.
func compose(m privacy.Mail, from, domain string, now time.Time) (*gomail.Msg, error) {
	if err := checkID(m.ID); err != nil {
		return nil, err
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent(), gomail.WithCharset(gomail.CharsetUTF8),
		gomail.WithEncoding(gomail.EncodingQP))
	if err := msg.From(from); err != nil {
		return nil, fmt.Errorf("send mail %s: invalid sender address", m.ID)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("send mail %s: invalid recipient address", m.ID)
	}
	// A subject is one header line: a line break would start a new header.
	msg.Subject(strings.Join(strings.Fields(m.Subject), " "))
	msg.SetDateWithValue(now)
	msg.SetMessageIDWithValue(m.ID + "@" + domain)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	return msg, nil
}
