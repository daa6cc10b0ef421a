package webhook

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"strconv"
	"time"
)

// An export too large for one callback request (every host caps a request:
// 16 MiB here, 100 MB at the Functions front end, 6 MB under Lambda) is uploaded in parts and
// then committed. The callback body is the same document either way
// ({"taskId","outcome","items":[…]}); the service cuts its bytes into parts of
// at most MaxPartBytes, numbered from 1, and:
//
//	PUT  {callbackUrl}/parts/{n}   the part's bytes, signed over PartBound(taskId, n) + bytes
//	POST {callbackUrl}/commit      {"taskId","parts":N,"bytes":B,"sha256":"<hex of all bytes>"}, signed like a callback
//
// A part may be sent again (a retry) any number of times before the commit;
// the last copy wins. The commit joins parts 1..N in order, checks their
// total size and SHA-256 against the commit, and only then parses the
// document and completes the task. A missing part or a mismatch leaves the
// task waiting, so the service can resend and commit again.

// MaxPartBytes is the largest part of an export upload, so that a part goes
// through every host: the standalone and Functions hosts cap a body at 16 MiB
// (the Functions front end at 100 MB), and AWS Lambda takes at most 6 MB per
// synchronous invocation, where API Gateway passes a binary body base64
// encoded (4 MiB becomes 5,592,408 bytes, leaving room for the event).
const MaxPartBytes = 4 << 20

// MaxParts is the largest part number (Azure block blobs allow as many blocks).
const MaxParts = 50000

// PartBound is what a part's signature covers before its bytes: the signed
// text is t + "." + PartBound(taskID, n) + part, so a part signed for one task
// and position cannot be replayed as another.
func PartBound(taskID string, n int) string {
	return "part." + taskID + "." + strconv.Itoa(n) + "."
}

// SignPart returns the SignatureHeader value for part n of an export upload
// (what a service sends; privops uses it in tests and the sender kit).
func SignPart(now time.Time, taskID string, n int, part []byte, secrets ...[]byte) string {
	return Sign(now, append([]byte(PartBound(taskID, n)), part...), secrets...)
}

// SignPartWith is SignPart with keys of either scheme.
func SignPartWith(now time.Time, taskID string, n int, part []byte, keys ...Key) string {
	return SignWith(now, append([]byte(PartBound(taskID, n)), part...), keys...)
}

// VerifyPart is VerifyStream for part n of task taskID's export upload.
func VerifyPart(header, taskID string, n int, body io.Reader, dst io.Writer, now time.Time, window time.Duration, secrets ...[]byte) (int64, error) {
	return verifyStream(header, PartBound(taskID, n), body, dst, now, window, secrets)
}

// Commit is the verified body of an upload's commit.
type Commit struct {
	TaskID string
	Parts  int
	Bytes  int64
	SHA256 []byte
}

// ParseCommit parses the verified body of a commit. Errors are
// invalid-callback problems that never repeat the body.
func ParseCommit(body []byte) (Commit, error) {
	var v struct {
		TaskID string `json:"taskId"`
		Parts  int    `json:"parts"`
		Bytes  int64  `json:"bytes"`
		SHA256 string `json:"sha256"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return Commit{}, invalidCallback("body is not a commit object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Commit{}, invalidCallback("body holds more than one JSON value")
	}
	if v.TaskID == "" || len(v.TaskID) > maxTaskID {
		return Commit{}, invalidCallback("taskId is required and at most %d bytes", maxTaskID)
	}
	if v.Parts < 1 || v.Parts > MaxParts {
		return Commit{}, invalidCallback("parts must be 1 to %d", MaxParts)
	}
	if v.Bytes < 1 || v.Bytes > int64(v.Parts)*MaxPartBytes {
		return Commit{}, invalidCallback("bytes must be 1 to parts × %d", MaxPartBytes)
	}
	sum, err := hex.DecodeString(v.SHA256)
	if err != nil || len(sum) != 32 {
		return Commit{}, invalidCallback("sha256 must be 64 hex digits")
	}
	return Commit{TaskID: v.TaskID, Parts: v.Parts, Bytes: v.Bytes, SHA256: sum}, nil
}
