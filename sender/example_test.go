package sender_test

import (
	"fmt"
	"log"
	"time"

	"github.com/privops/privops/sender"
)

// An HR system asks privops to erase a leaver's data. The key, the event id
// and the clock are fixed here so the output is a test vector: an integrator
// writing a sender in another language can check its signature against it
// (the signature was also computed with
// printf '1896055200.<body>' | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef).
func ExampleEvent_Message() {
	key := sender.Key{ID: "hr-2030-01", Secret: []byte("0123456789abcdef0123456789abcdef")}
	now := time.Date(2030, 1, 31, 2, 0, 0, 0, time.UTC)

	e, err := sender.NewDSRRequested("acme", "//hr.acme.example/leavers", sender.DSRRequested{
		Type:        sender.RequestErase,
		Subject:     sender.Subject{Email: "ada@example.com", Country: "DE", UserID: "u-1815"},
		ExternalRef: "HR-2030-0142",
	})
	if err != nil {
		log.Fatal(err)
	}
	e.ID = "0b6f7a52-4a8e-4d55-9c1a-2f8f3b1c9d10" // normally the random UUID NewDSRRequested set

	m, err := e.Message(key, now)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("body:", string(m.Body))
	fmt.Println("content type:", m.ContentType)
	fmt.Println("message id:", m.MessageID)
	fmt.Println(sender.SignatureProperty+":", m.Properties[sender.SignatureProperty])
	// Output:
	// body: {"specversion":"1.0","id":"0b6f7a52-4a8e-4d55-9c1a-2f8f3b1c9d10","source":"//hr.acme.example/leavers","type":"com.privops.dsr.requested.v1","time":"2030-01-31T02:00:00Z","datacontenttype":"application/json","tenantid":"acme","data":{"type":"erase","subject":{"email":"ada@example.com","country":"DE","userId":"u-1815"},"externalRef":"HR-2030-0142"}}
	// content type: application/cloudevents+json; charset=utf-8
	// message id: 0b6f7a52-4a8e-4d55-9c1a-2f8f3b1c9d10
	// privops-signature: t=1896055200,k=hr-2030-01,v1=db18171ecbeccd6e4c23df97777bc80995a37c4edefc8860689d27c14c160733
}
