package config

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/phpinit/phpinit/internal/sockets"
)

// Socket is a listening socket phpinit binds once and hands to every start
// of the program (php-fpm through FPM_SOCKETS, nginx through NGINX), so that
// while the program restarts connections wait in the kernel's backlog
// instead of being refused. A list item is either the address alone or a
// mapping with the address and, for a unix socket, owner, group and mode.
type Socket struct {
	// Address is tcp://host:port or unix:///absolute/path and must be the
	// program's own listen address: php-fpm uses an inherited socket only
	// for the pool whose listen value is the same path, or the same IP and
	// port; nginx for the listen directive with the same address. Required.
	Address string `mapstructure:"address" yaml:"address" json:"address"`
	// Owner of a unix socket file (a user name or uid); "" means the
	// program's user (phpinit's own when the program has none). Clients
	// (nginx's workers) need write permission on the file to connect.
	Owner string `mapstructure:"owner" yaml:"owner,omitempty" json:"owner,omitempty"`
	// Group of a unix socket file; "" means Owner's primary group.
	Group string `mapstructure:"group" yaml:"group,omitempty" json:"group,omitempty"`
	// Mode of a unix socket file, octal ("0660" or 0660); 0 means 0660,
	// php-fpm's own default for listen.mode.
	Mode SocketMode `mapstructure:"mode" yaml:"mode,omitempty" json:"mode,omitempty"`
	// Nonblocking hands the socket over with O_NONBLOCK set; nil means
	// true for a program whose command is nginx and false otherwise.
	// nginx sets the flag only on sockets it creates, and a worker blocked
	// in accept(2) on a blocking one cannot stop gracefully; php-fpm's
	// workers need a blocking one (on a non-blocking one they exit at once,
	// over and over).
	Nonblocking *bool `mapstructure:"nonblocking" yaml:"nonblocking,omitempty" json:"nonblocking,omitempty"`
}

// IsNonblocking reports Nonblocking with its default for program p.
func (s Socket) IsNonblocking(p *Program) bool {
	if s.Nonblocking != nil {
		return *s.Nonblocking
	}
	return len(p.Command) > 0 && strings.HasPrefix(filepath.Base(p.Command[0]), "nginx")
}

// SocketMode is a unix socket file's permission bits.
type SocketMode uint32

// String is the mode in octal, as it is written in the config.
func (m SocketMode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// MarshalText writes the octal form (phpinit check --print, JSON).
func (m SocketMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

var (
	socketType     = reflect.TypeOf(Socket{})
	socketModeType = reflect.TypeOf(SocketMode(0))
)

// socketHook reads a sockets item given as a bare address string, and a
// mode given as an octal string ("0660"; YAML already reads an unquoted
// 0660 as octal, and weak typing would read the string as decimal).
func socketHook(from, to reflect.Type, data any) (any, error) {
	switch {
	case to == socketType && from.Kind() == reflect.String:
		return map[string]any{"address": data}, nil
	case to == socketModeType && from.Kind() == reflect.String:
		n, err := strconv.ParseUint(data.(string), 8, 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not an octal mode", data)
		}
		return n, nil
	}
	return data, nil
}

// programSockets checks one program's sockets: the address, and owner,
// group and mode only where they mean something (a unix socket).
func (l *loader) programSockets(name string, p *Program) {
	for i, s := range p.Sockets {
		key := fmt.Sprintf("programs.%s.sockets[%d]", name, i)
		a, err := sockets.ParseAddress(s.Address)
		if err != nil {
			l.p.add(key+".address", err.Error())
			continue
		}
		if a.Network == "unix" {
			if s.Mode > 0o777 {
				l.p.add(key+".mode", fmt.Sprintf("%s has bits beyond 0777", s.Mode))
			}
			continue
		}
		for _, f := range []struct {
			key string
			set bool
		}{{"owner", s.Owner != ""}, {"group", s.Group != ""}, {"mode", s.Mode != 0}} {
			if f.set {
				l.p.add(key+"."+f.key, f.key+" is only for a unix socket")
			}
		}
	}
}

// duplicateSockets reports an address held twice, in one program or two:
// only one socket can be bound to it.
func (l *loader) duplicateSockets(c *Config) {
	first := map[string]string{}
	for _, name := range sortedKeys(c.Programs) {
		for i, s := range c.Programs[name].Sockets {
			a, err := sockets.ParseAddress(s.Address)
			if err != nil {
				continue
			}
			key := fmt.Sprintf("programs.%s.sockets[%d].address", name, i)
			if prev, ok := first[a.String()]; ok {
				l.p.add(key, fmt.Sprintf("%s is already held by %s", a, prev))
				continue
			}
			first[a.String()] = key
		}
	}
}
