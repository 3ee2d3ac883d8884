package webui

import (
	"crypto/tls"

	"github.com/ppsync/ppsync/internal/config"
)

// FromConfig builds the endpoint's protection, TLS (nil for plain HTTP) and
// upload settings from [admin]. It reads the token file and the
// certificate, so a bad one stops start-up with a message naming the key.
func FromConfig(a config.Admin) (Security, *tls.Config, Upload, error) {
	sec := Security{Listen: a.Listen, PasswordHash: a.AuthPasswordHash, PublicMetrics: a.PublicMetrics}
	up := Upload{Enabled: a.Upload, MaxBytes: a.UploadMaxSize.Bytes}
	if a.AuthTokenFile != "" {
		tok, err := ReadToken(a.AuthTokenFile)
		if err != nil {
			return sec, nil, up, err
		}
		sec.Token = tok
	}
	var tc *tls.Config
	if a.TLSCert != "" {
		var err error
		if tc, err = TLSConfig(a.TLSCert, a.TLSKey); err != nil {
			return sec, nil, up, err
		}
		sec.TLS = true
	}
	return sec, tc, up, nil
}
