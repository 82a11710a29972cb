// Package tlscert gives nginx a certificate at a fixed runtime path: the
// mounted pair from a directory named like a Kubernetes kubernetes.io/tls
// Secret (tls.crt, tls.key), or else a self-signed pair generated at start,
// in memory-backed runtime storage and never in the mounted directory. It
// also exports the certificate's expiry as a metric.
package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Names of the pair, in the mounted directory and in the runtime one.
const (
	CertFile = "tls.crt"
	KeyFile  = "tls.key"
)

// Image paths: the volume users mount and where nginx.conf's site reads.
const (
	ConfDir = "/data/conf/tls"
	RunDir  = "/run/tls"
)

// validity of a generated certificate.
const validity = 365 * 24 * time.Hour

// Prepared says where nginx's certificate comes from.
type Prepared struct {
	// Cert is the certificate file to report: the mounted tls.crt, or the
	// generated one in the runtime directory.
	Cert string
	// Generated is true when no pair was mounted.
	Generated bool
}

// Prepare points runDir/tls.crt and runDir/tls.key at confDir's pair when
// both are there (symlinks: a renewal, a Secret's ..data swap included, is
// read by nginx at its next reload), or else writes a fresh self-signed
// pair into runDir. It does nothing, and returns nil, when confDir does not
// exist (phpinit outside the image).
func Prepare(logger *slog.Logger, confDir, runDir string) (*Prepared, error) {
	if _, err := os.Stat(confDir); err != nil {
		return nil, nil
	}
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create tls runtime directory: %w", err)
	}
	// A root phpinit keeps the directory its own (the image ships it as
	// www's, for --user 1000): the programs' users must not swap the links.
	if os.Geteuid() == 0 {
		if err := os.Chown(runDir, 0, 0); err != nil {
			return nil, fmt.Errorf("cannot own tls runtime directory: %w", err)
		}
		if err := os.Chmod(runDir, 0o755); err != nil {
			return nil, fmt.Errorf("cannot own tls runtime directory: %w", err)
		}
	}
	crt, key := filepath.Join(confDir, CertFile), filepath.Join(confDir, KeyFile)
	_, errC := os.Lstat(crt)
	_, errK := os.Lstat(key)
	switch {
	case errC == nil && errK == nil:
		for _, f := range []string{CertFile, KeyFile} {
			if err := replaceLink(filepath.Join(confDir, f), filepath.Join(runDir, f)); err != nil {
				return nil, err
			}
		}
		logger.Info("using the mounted TLS certificate", "cert", crt, "key", key)
		return &Prepared{Cert: crt}, nil
	case errC == nil || errK == nil:
		logger.Warn("TLS pair incomplete: need both; generating a self-signed certificate",
			"dir", confDir, "files", CertFile+", "+KeyFile)
	}
	notAfter, err := Generate(filepath.Join(runDir, CertFile), filepath.Join(runDir, KeyFile), hostNames())
	if err != nil {
		return nil, err
	}
	logger.Info("generated a self-signed TLS certificate: mount tls.crt and tls.key in "+confDir+" for a real one",
		"cert", filepath.Join(runDir, CertFile), "not_after", notAfter.Format(time.RFC3339))
	return &Prepared{Cert: filepath.Join(runDir, CertFile), Generated: true}, nil
}

// replaceLink makes link a symlink to target, replacing what was there.
func replaceLink(target, link string) error {
	tmp := link + ".tmp"
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("cannot link %s: %w", link, err)
	}
	if err := os.Rename(tmp, link); err != nil {
		return fmt.Errorf("cannot link %s: %w", link, err)
	}
	return nil
}

func hostNames() []string {
	names := []string{"localhost"}
	if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
		names = append(names, h)
	}
	return names
}

// Generate writes a self-signed ECDSA P-256 certificate for names (and
// 127.0.0.1, ::1) to certPath and its key to keyPath (mode 0600), and
// returns its NotAfter. An existing file is replaced.
func Generate(certPath, keyPath string, names []string) (time.Time, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot generate tls key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot generate tls serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[0], Organization: []string{"phpinit self-signed"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot create tls certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot encode tls key: %w", err)
	}
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return time.Time{}, err
	}
	if err := writeFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return time.Time{}, err
	}
	return tmpl.NotAfter, nil
}

// writeFile replaces path (a symlink left by an earlier start included)
// with a new file of mode perm.
func writeFile(path string, b []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	os.Remove(tmp)
	if err := os.WriteFile(tmp, b, perm); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

// NotAfter reads the first certificate of a PEM file.
func NotAfter(path string) (time.Time, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot read certificate: %w", err)
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return time.Time{}, fmt.Errorf("cannot read certificate %s: %w", path, errors.New("no PEM CERTIFICATE block"))
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return time.Time{}, fmt.Errorf("cannot parse certificate %s: %w", path, err)
		}
		return c.NotAfter, nil
	}
}
