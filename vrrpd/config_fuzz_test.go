package vrrpd

import (
	"strings"
	"testing"
)

func FuzzParseConfig(f *testing.F) {
	f.Add(articleMaster)
	f.Add("vrrp_instance V {\n interface e\n virtual_router_id 1\n virtual_ipaddress {\n 10.0.0.1/24 dev e label e:1 brd 10.0.0.255\n }\n}\n")
	f.Add("global_defs {\n vrrp_version 3\n vrrp_min_garp on\n}\nvrrp_sync_group G {\n group {\n V\n }\n}\n")
	f.Fuzz(func(t *testing.T, in string) {
		if strings.Contains(in, "include") {
			return
		}
		cfg, _, err := ParseConfig("f.conf", []byte(in))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.conf:") {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		for _, in := range cfg.Instances {
			if in.VRID < 1 || in.VRID > 255 || in.Interface == "" || in.AdvertInt <= 0 {
				t.Fatalf("invalid instance accepted: %+v", in)
			}
		}
	})
}
