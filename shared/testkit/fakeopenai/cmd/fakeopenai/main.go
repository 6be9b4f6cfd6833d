// Command fakeopenai is a scripted OpenAI-compatible server for measuring the CLI
// against the behaviours of real local servers (llama.cpp's llama-server): an outage
// (every connection dropped, then the same port listens again), a fixed number of
// slots beyond which requests queue instead of being refused, /props, and a chat
// template that refuses roles that do not alternate. It is test tooling, never part of
// the product.
//
//	go run ./shared/testkit/fakeopenai/cmd/fakeopenai -addr 127.0.0.1:18080 -outage-after 12 -outage 60s
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/examina-dev/examina-serverless/shared/testkit/fakeopenai"
)

// rolesRefusal is llama-server's answer to [system, user, user] with the Llama-2-chat
// template (the recorded repair-roles-must-alternate-400 transcript).
const rolesRefusal = `{"error":{"code":400,"message":"Unable to generate parser for this template. Automatic parser generation failed: \n------------\nWhile executing CallExpression at line 1, column 329 in source:\n...op.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user...\n                                           ^\nError: Jinja Exception: Conversation roles must alternate user/assistant/user/assistant/...","type":"invalid_request_error"}}`

// invalidAnswer is the grammar-constrained answer llama-server's random model gave:
// valid JSON, confidence out of range (the recorded ok-stop transcript, shortened).
const invalidAnswer = `{ "is_valid_exercise" : true,"is_fragment" :false,"should_merge_with_previous" : false,"topic" : "Reti logiche","core_loop_name":"Sintesi di circuiti","procedure": ["a"],"difficulty" :"medium","variations" :[], "confidence" :46E2550782 }`

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "listen address")
	after := flag.Int("outage-after", 0, "drop every connection after this many chat requests (0: never)")
	down := flag.Duration("outage", 60*time.Second, "how long the outage lasts")
	latency := flag.Duration("latency", 200*time.Millisecond, "time to answer one request in a slot")
	slots := flag.Int("slots", 0, "requests decoded at once; more queue (0: unlimited)")
	props := flag.Int("n-ctx", 0, "serve GET /props with this per-slot context and -slots (0: 404)")
	llamaRoles := flag.Bool("llama-roles", false, "refuse messages whose roles do not alternate, as Llama-2-chat's template does")
	invalidFirst := flag.Bool("invalid-first", false, "answer every first attempt (system + user) with an out-of-range confidence, repairs with a valid analysis")
	flag.Parse()

	var queue chan struct{}
	if *slots > 0 {
		queue = make(chan struct{}, *slots)
	}
	var fcfg fakeopenai.Config
	if *props > 0 {
		fcfg.Props = &fakeopenai.Props{NCtx: *props, TotalSlots: *slots}
	}
	fcfg.Respond = func(n int, r fakeopenai.Request) fakeopenai.Answer {
		msgs, _ := r.Payload["messages"].([]any)
		if *llamaRoles && !alternates(msgs) {
			return fakeopenai.Answer{Status: 400, Body: rolesRefusal}
		}
		if *invalidFirst && len(msgs) <= 2 {
			return fakeopenai.Answer{Content: invalidAnswer}
		}
		return fakeopenai.Answer{}
	}
	inner := fakeopenai.NewHandler(fcfg)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if queue != nil && r.Method == http.MethodPost {
			select { // a free slot, else queue: never a 429
			case queue <- struct{}{}:
			case <-r.Context().Done():
				return
			}
			defer func() { <-queue }()
		}
		if r.Method == http.MethodPost {
			time.Sleep(*latency)
		}
		inner.ServeHTTP(w, r)
	})
	srv, err := fakeopenai.NewOutageServer(*addr, h, *after, *down)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "fakeopenai: listening on %s (base URL %s)\n", srv.URL, srv.BaseURL())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	tick := time.NewTicker(time.Second)
	phase := 0 // 0 before the outage, 1 during, 2 after
	for {
		select {
		case <-stop:
			st := inner.Stats()
			json.NewEncoder(io.Writer(os.Stderr)).Encode(map[string]any{"requests": st.Requests, "metadata_requests": inner.MetadataRequests()})
			srv.Close()
			return
		case <-tick.C:
			from, to := srv.Outage()
			switch {
			case phase == 0 && !from.IsZero():
				fmt.Fprintf(os.Stderr, "fakeopenai: outage began %s\n", from.Format(time.TimeOnly))
				phase = 1
			case phase == 1 && !to.IsZero():
				fmt.Fprintf(os.Stderr, "fakeopenai: listening again %s\n", to.Format(time.TimeOnly))
				phase = 2
			}
		}
	}
}

func alternates(msgs []any) bool {
	i := 0
	for _, m := range msgs {
		role, _ := m.(map[string]any)["role"].(string)
		if role == "system" && i == 0 {
			continue
		}
		want := "user"
		if i%2 == 1 {
			want = "assistant"
		}
		if role != want {
			return false
		}
		i++
	}
	return true
}
