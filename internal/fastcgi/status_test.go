package fastcgi

import (
	"os"
	"strings"
	"testing"
)

func TestParsePoolStatus(t *testing.T) {
	// Captured from php-fpm 8.2 (pm = static, max_children = 2) with
	// QUERY_STRING "json" and "json&full".
	want := PoolStatus{
		Pool: "www", ProcessManager: "static", StartTime: 1795813270, StartSince: 15,
		AcceptedConn: 14, ListenQueue: 0, MaxListenQueue: 0, ListenQueueLen: 0,
		IdleProcesses: 1, ActiveProcesses: 1, TotalProcesses: 2, MaxActiveProcesses: 1,
		MaxChildrenReached: 0, SlowRequests: 0,
	}
	for file, accepted := range map[string]int64{"status.json": 14, "status-full.json": 15} {
		body, err := os.ReadFile("testdata/php-fpm/" + file)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParsePoolStatus(body)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		want.AcceptedConn = accepted
		if *got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", file, *got, want)
		}
	}
}

func TestParsePoolStatusAllFields(t *testing.T) {
	body := `{"pool":"p","process manager":"dynamic","start time":1,"start since":2,"accepted conn":3,
		"listen queue":4,"max listen queue":5,"listen queue len":6,"idle processes":7,"active processes":8,
		"total processes":9,"max active processes":10,"max children reached":11,"slow requests":12}`
	got, err := ParsePoolStatus([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := PoolStatus{"p", "dynamic", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}
	if *got != want {
		t.Errorf("got %+v\nwant %+v", *got, want)
	}
}

func TestParsePoolStatusErrors(t *testing.T) {
	for _, body := range []string{"pong", "", "{}", `{"pool":1}`, "pool:www\nprocess manager: static\n"} {
		if _, err := ParsePoolStatus([]byte(body)); err == nil || !strings.Contains(err.Error(), "cannot parse php-fpm status") {
			t.Errorf("ParsePoolStatus(%q) err = %v", body, err)
		}
	}
}
