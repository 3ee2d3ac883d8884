package emulator

import (
	"encoding/json"
	"net/http"

	"github.com/ppsync/ppsync/internal/apitypes"
)

func (e *Emulator) getMe(w http.ResponseWriter, _ *http.Request, key string) {
	e.mu.Lock()
	c := e.credits
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, apitypes.UserEnvelope{User: apitypes.User{
		UserID: "usr_emulator", Email: "emulator@localhost", Name: "PerfectParser Emulator",
		CreditsAvailable: c, KeyName: "Emulator key " + keyHint(key), MemberSince: "2026-01-15T08:00:00.000Z",
	}})
}

// keyHint shows the last four characters of a key, never the whole key.
func keyHint(k string) string {
	if len(k) <= 4 {
		return "…"
	}
	return "…" + k[len(k)-4:]
}

func (e *Emulator) getCredits(w http.ResponseWriter, _ *http.Request, _ string) {
	e.mu.Lock()
	c := e.credits
	e.mu.Unlock()
	exp := "2027-06-01T00:00:00.000Z"
	writeJSON(w, http.StatusOK, apitypes.CreditsEnvelope{Credits: apitypes.Credits{
		Available: c,
		Purchases: []apitypes.Purchase{{PurchaseID: "pur_emulator", Plan: "popular", Credits: max(c, 1000), Remaining: c,
			ExpiresAt: &exp, PurchasedAt: "2026-06-01T12:00:00.000Z"}},
	}})
}

func (e *Emulator) emuStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, e.Stats())
}

func (e *Emulator) emuCredits(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Credits *int `json:"credits"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&in); err != nil || in.Credits == nil {
		writeErr(w, http.StatusBadRequest, apitypes.CodeInvalidPayload, `body must be {"credits": N}`)
		return
	}
	e.SetCredits(*in.Credits)
	e.emuStats(w, r)
}
