package lbd

import (
	"encoding/base64"
	"strings"
)

// checkBasicAuth checks the request's Authorization header against
// "stats auth user:password" accounts.
func checkBasicAuth(req *Request, accounts []string) bool {
	v, ok := req.Header.Get("Authorization")
	if !ok || !strings.HasPrefix(v, "Basic ") {
		return false
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(v, "Basic "))
	if err != nil {
		return false
	}
	for _, a := range accounts {
		if a == string(dec) {
			return true
		}
	}
	return false
}
