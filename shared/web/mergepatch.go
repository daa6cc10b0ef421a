package web

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"reflect"
	"strconv"

	"github.com/privops/privops/shared/privacy"
)

// MergePatchType is the media type of a JSON Merge Patch (RFC 7396).
const MergePatchType = "application/merge-patch+json"

// DecodeMergePatch reads a JSON Merge Patch body: application/merge-patch+json
// only, at most limit bytes, one JSON object (a patch that is not an object
// would replace the whole resource, which no resource here allows).
func DecodeMergePatch(w http.ResponseWriter, r *http.Request, limit int64) (map[string]any, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != MergePatchType {
		return nil, privacy.Errorf(privacy.KindUnsupported, "unsupported-media-type", "the body must be %s", MergePatchType)
	}
	data, err := readBody(w, r, limit)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errEmptyBody()
	}
	// The same strict pass as Decode: duplicate keys, invalid UTF-8, lone
	// surrogates and control characters are refused with their codes.
	if err := checkStrict(data); err != nil {
		return nil, err
	}
	var patch map[string]any
	if err := decodeStrict(bytes.NewReader(data), limit, &patch); err != nil {
		return nil, err
	}
	if patch == nil { // the body was null
		return nil, privacy.Errorf(privacy.KindInvalid, "malformed-json", "the body must be a JSON object")
	}
	return patch, nil
}

// ParseMergePatch reads a JSON Merge Patch given other than as a request body
// (the `privops tenant update --patch` flag) as strictly as DecodeMergePatch.
func ParseMergePatch(b []byte) (map[string]any, error) {
	if err := checkStrict(b); err != nil {
		return nil, err
	}
	var patch map[string]any
	if err := decodeStrict(bytes.NewReader(b), int64(len(b)), &patch); err != nil {
		return nil, err
	}
	if patch == nil {
		return nil, privacy.Errorf(privacy.KindInvalid, "malformed-json", "the patch must be a JSON object")
	}
	return patch, nil
}

// ApplyMergePatch applies patch (RFC 7396) to the JSON form of current and
// decodes the result strictly into out: a member set to null is removed (so out
// gets its zero value, which the resources here read as "the default"), an
// object is merged member by member, anything else replaces. An unknown
// member or a wrong type is refused as Decode refuses it.
func ApplyMergePatch(current any, patch map[string]any, out any) error {
	pb, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	if err := checkMembers(pb, reflect.TypeOf(out), true); err != nil {
		return err
	}
	b, err := json.Marshal(current)
	if err != nil {
		return err
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return err
	}
	merged, err := json.Marshal(MergePatch(doc, patch))
	if err != nil {
		return err
	}
	return decodeStrict(bytes.NewReader(merged), int64(len(merged)), out)
}

// MergePatch returns target with patch applied, as RFC 7396 §2 defines it.
// It may modify target's maps.
func MergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = MergePatch(t[k], v)
	}
	return t
}

// IfMatch returns the entity tag of the request's If-Match header without its
// quotes ("" when absent). A weak tag (W/"…") never matches a strong ETag, so
// it is returned as is and fails the comparison (RFC 9110 §13.1.1).
func IfMatch(r *http.Request) string {
	v := r.Header.Get("If-Match")
	if uq, err := strconv.Unquote(v); err == nil {
		return uq
	}
	return v
}

// Merged returns a change that applies patch to a T (see ApplyMergePatch):
// the form the domain's read-modify-write operations take, so a patch runs
// again on the newer version after a concurrent write.
func Merged[T any](patch map[string]any) func(T) (T, error) {
	return func(cur T) (T, error) {
		var next T
		err := ApplyMergePatch(cur, patch, &next)
		return next, err
	}
}
