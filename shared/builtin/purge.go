package builtin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/privops/privops/sender"
	"github.com/privops/privops/shared/privacy"
)

var _ privacy.Purger = Queue{}

// ErrNoCommandKey: a Service Bus service's purge command cannot be signed,
// because the service has no secret (one is made when it is saved; rotate
// it with …/rotate-secret).
var ErrNoCommandKey = errors.New("the service has no secret to sign a purge command with (rotate-secret makes one)")

// PurgeMessageID is the broker message id of a purge command: the same for
// every send of one purge (a crash between the checkpoint and the send, a
// redelivered job), so the queue's duplicate detection keeps one.
func PurgeMessageID(purgeID string) string { return purgeID + ".purge" }

// Purge implements privacy.Purger for a Service Bus service: it sends the
// purge command (sender.PurgeCommand: ids, category, event, cutoff, dry run,
// answer deadline, the salted exclusion list; never an email) to the
// service's queue as a CloudEvent io.privops.retention.purge.v1, signed in
// the privops-signature property with the command key of each of the
// service's active secrets (sender.SignCommand), and answers Sent: the
// counts come back as a com.privops.purge.completed.v1 message on the
// inbound queue. Publish errors are returned as they are (ErrUnavailable:
// transient).
func (q Queue) Purge(ctx context.Context, svc *privacy.Service, call privacy.PurgeCall) (privacy.PurgeResult, error) {
	if svc == nil || svc.Queue == "" || call.PurgeID == "" || call.RunID == "" || call.TenantID == "" || call.Cutoff.IsZero() {
		return privacy.PurgeResult{}, errors.New("a purge command needs its service queue, ids, tenant and cutoff")
	}
	keys := make([]sender.Key, 0, len(call.SigningKeys))
	for _, k := range call.SigningKeys {
		b, err := base64.StdEncoding.DecodeString(k.Value)
		if err != nil || len(b) < sender.MinSecretBytes {
			continue
		}
		keys = append(keys, sender.Key{ID: k.ID, Secret: b})
	}
	if len(keys) == 0 {
		return privacy.PurgeResult{}, ErrNoCommandKey
	}
	cmd := sender.PurgeCommand{PurgeID: call.PurgeID, RunID: call.RunID, PolicyID: call.PolicyID, Category: call.Category,
		From: call.From, Cutoff: call.Cutoff.UTC().Truncate(time.Second).Format(time.RFC3339), DryRun: call.DryRun,
		AnswerBy: call.AnswerBy.UTC().Truncate(time.Second).Format(time.RFC3339)}
	if x := call.Exclusions; x != nil {
		cmd.Exclusions = &sender.Exclusions{Salt: base64.StdEncoding.EncodeToString(x.Salt), Hashes: append([]string{}, x.Hashes...)}
	}
	now := q.Now()
	ev, err := privacy.NewEvent(call.PurgeID, sender.PurgeCommandType, call.TenantID, call.RunID, now, cmd)
	if err != nil {
		return privacy.PurgeResult{}, err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return privacy.PurgeResult{}, fmt.Errorf("encode purge command: %w", err)
	}
	m := privacy.OutMessage{ID: PurgeMessageID(call.PurgeID), Body: body, ContentType: sender.ContentType,
		Properties: map[string]string{sender.SignatureProperty: sender.SignCommand(keys, body, now)}}
	if err := q.Publisher.Publish(ctx, svc.Queue, m); err != nil {
		return privacy.PurgeResult{}, err
	}
	return privacy.PurgeResult{Sent: true}, nil
}
