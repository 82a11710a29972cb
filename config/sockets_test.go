package config

import "testing"

func TestSockets(t *testing.T) {
	c, err := loadOffline(t, `programs:
  php-fpm:
    command: [php-fpm]
    sockets:
      - unix:///run/php/php-fpm.sock
      - {address: "unix:///run/php/other.sock", owner: www-data, group: www, mode: "0666"}
      - {address: "unix:///run/php/third.sock", mode: 0600}
  nginx:
    command: [nginx]
    sockets: [tcp://127.0.0.1:8080, "tcp://[::]:8443"]
`)
	if err != nil {
		t.Fatal(err)
	}
	fpm := c.Programs["php-fpm"].Sockets
	want := []Socket{
		{Address: "unix:///run/php/php-fpm.sock"},
		{Address: "unix:///run/php/other.sock", Owner: "www-data", Group: "www", Mode: 0o666},
		{Address: "unix:///run/php/third.sock", Mode: 0o600},
	}
	if len(fpm) != len(want) {
		t.Fatalf("php-fpm sockets = %+v", fpm)
	}
	for i := range want {
		if fpm[i] != want[i] {
			t.Errorf("php-fpm sockets[%d] = %+v, want %+v", i, fpm[i], want[i])
		}
	}
	if n := c.Programs["nginx"].Sockets; len(n) != 2 || n[1].Address != "tcp://[::]:8443" {
		t.Errorf("nginx sockets = %+v", n)
	}
	if got := want[1].Mode.String(); got != "0666" {
		t.Errorf("Mode.String() = %q", got)
	}
}

func TestSocketNonblockingDefault(t *testing.T) {
	c, err := loadOffline(t, `programs:
  php-fpm: {command: [php-fpm8.2], sockets: [unix:///run/php.sock, {address: "tcp://127.0.0.1:9000", nonblocking: true}]}
  nginx: {command: [/usr/sbin/nginx], sockets: [tcp://0.0.0.0:80, {address: "tcp://127.0.0.1:81", nonblocking: false}]}
`)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		program string
		want    []bool
	}{{"php-fpm", []bool{false, true}}, {"nginx", []bool{true, false}}} {
		p := c.Programs[tc.program]
		for i, want := range tc.want {
			if got := p.Sockets[i].IsNonblocking(p); got != want {
				t.Errorf("%s sockets[%d] nonblocking = %v, want %v", tc.program, i, got, want)
			}
		}
	}
}

func TestSocketsNoneByDefault(t *testing.T) {
	c, err := loadOffline(t, "programs: {web: {command: [w]}}")
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Programs["web"].Sockets; s != nil {
		t.Fatalf("sockets = %+v, want none", s)
	}
}

func TestSocketsInvalid(t *testing.T) {
	_, err := loadOffline(t, `programs:
  a:
    command: [a]
    sockets:
      - 127.0.0.1:9000
      - unix://run/php.sock
      - {address: "tcp://127.0.0.1:9000", owner: www-data, mode: "0660"}
      - {address: "unix:///run/a.sock", mode: "rw"}
      - {address: "unix:///run/b.sock", mode: 01777}
      - unix:///run/dup.sock
  b:
    command: [b]
    sockets: [unix:///run/dup.sock, "tcp://127.0.0.1:9000"]
`)
	wantProblems(t, err,
		`programs.a.sockets[0].address: address "127.0.0.1:9000" is neither tcp://host:port nor unix:///path`,
		`programs.a.sockets[1].address: unix socket path "run/php.sock" is not absolute (want unix:///path)`,
		`programs.a.sockets[2].mode: mode is only for a unix socket`,
		`programs.a.sockets[2].owner: owner is only for a unix socket`,
		`programs.a.sockets[3].mode: "rw" is not an octal mode`,
		`programs.a.sockets[4].mode: 1777 has bits beyond 0777`,
		`programs.b.sockets[0].address: unix:///run/dup.sock is already held by programs.a.sockets[5].address`,
		`programs.b.sockets[1].address: tcp://127.0.0.1:9000 is already held by programs.a.sockets[2].address`,
	)
}
