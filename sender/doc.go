// Package sender builds and signs the messages a tenant's own systems send to
// privops over Service Bus (or SQS): an HR system asking to erase a leaver, a
// service reporting the result of a task privops gave it.
//
// It uses the standard library only and imports nothing else from privops, so
// tenant integrators can vendor or copy it. It never sends: it returns the
// body, content type, message id and application properties to hand to the
// broker's SDK, and it never reads the clock or the environment (the caller
// passes now).
//
// # The contract
//
// A message is a CloudEvents 1.0 event in structured JSON mode plus the
// tenantid extension attribute. The type carries the version:
//
//	com.privops.dsr.requested.v1       a data subject request to open (DSRRequested)
//	com.privops.dsr.task.completed.v1  a task privops gave the service is done (TaskCompleted)
//	com.privops.dsr.task.failed.v1     a task privops gave the service failed (TaskFailed)
//	com.privops.breach.reported.v1     a sub-processor reports a breach touching the tenant (BreachReported)
//	com.privops.purge.completed.v1     a Service Bus service answers a retention purge command (PurgeCompleted)
//
// The JSON Schemas and the AsyncAPI document in the repository's contract/
// folder are the reference; this package follows them and its tests check it.
//
// # Signing
//
// Every message carries the application property
//
//	privops-signature: t=<unix seconds>,k=<key id>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
//
// signed with one of the sending tenant's keys (Key). privops looks the key up
// under the message's tenantid, so a tenant can only send about itself: key
// ids are per tenant, and a message naming another tenant is refused. privops
// refuses a signature whose t is more than INBOUND_WINDOW (five minutes by
// default) before or after the time the broker accepted the message, so sign
// just before sending and keep the sender's clock in sync. A key's secret is
// shown once by POST /api/admin/{tenant}/inbound-keys as standard base64;
// Key.Secret is the decoded bytes. While
// rolling a key, a tenant has two active keys and signs with either.
//
// The body is signed as sent: do not re-serialise it after Message.
//
// # Retention purge commands (Service Bus services)
//
// A Service Bus service that lists the purge action gets, on its own queue, a
// purge command (PurgeCommandType, data PurgeCommand) for each retention
// policy on it. Check it with VerifyCommand against the service's own
// secrets (newSecret when the service was saved): it is signed with each
// active secret's command key (CommandKey), never with the secret itself. Delete the category's data past the cutoff, sparing every subject
// whose ExclusionHash under the command's salt is listed (NormalizeEmail
// states the normalisation exactly), and answer before AnswerBy with
// NewPurgeCompleted, signed like any message. A second answer to the same
// command is refused; an answer after AnswerBy comes too late (the policy was
// reported no-answer).
//
// # Delivery and duplicates
//
// Message sets the broker message id to the event id, so Service Bus duplicate
// detection drops a resend of the same Event. privops also treats a second
// message with the same tenantid, source and id as a duplicate: to retry a
// send, send the same Event again rather than building a new one.
//
// # Example
//
//	e, err := sender.NewDSRRequested("acme", "//hr.acme.example/leavers", sender.DSRRequested{
//		Type:        sender.RequestErase,
//		Subject:     sender.Subject{Email: "ada@example.com", Country: "DE", UserID: "u-1815"},
//		ExternalRef: "HR-2030-0142",
//	})
//	if err != nil { ... }
//	m, err := e.Message(sender.Key{ID: "hr-2030-01", Secret: secret}, time.Now())
//	if err != nil { ... }
//	// With azservicebus:
//	err = queueSender.SendMessage(ctx, &azservicebus.Message{
//		Body:                  m.Body,
//		ContentType:           &m.ContentType,
//		MessageID:             &m.MessageID,
//		ApplicationProperties: map[string]any{sender.SignatureProperty: m.Properties[sender.SignatureProperty]},
//	}, nil)
//
// With SQS, send m.Properties as String message attributes.
package sender
