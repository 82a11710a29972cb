package app

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

func TestSeedDefaults(t *testing.T) {
	defaults, data := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(defaults, "nginx"), 0o755)
	os.WriteFile(filepath.Join(defaults, "nginx", "default.conf"), []byte("server {}\n"), 0o644)
	os.MkdirAll(filepath.Join(defaults, "php-fpm"), 0o755)
	os.WriteFile(filepath.Join(defaults, "php-fpm", "www.conf"), []byte("[www]\n"), 0o644)
	os.MkdirAll(filepath.Join(data, "nginx"), 0o755)             // empty: seeded
	os.MkdirAll(filepath.Join(data, "php-fpm", "..data"), 0o755) // ConfigMap: untouched

	SeedDefaults(slog.New(slog.DiscardHandler), defaults, data)

	got, err := os.ReadFile(filepath.Join(data, "nginx", "default.conf"))
	if err != nil || string(got) != "server {}\n" {
		t.Errorf("empty dir not seeded: %q %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(data, "php-fpm", "www.conf")); err == nil {
		t.Error("a non-empty directory was seeded")
	}
	// Seeding twice changes nothing (the directory is no longer empty).
	os.WriteFile(filepath.Join(data, "nginx", "default.conf"), []byte("mine\n"), 0o644)
	SeedDefaults(slog.New(slog.DiscardHandler), defaults, data)
	if got, _ := os.ReadFile(filepath.Join(data, "nginx", "default.conf")); string(got) != "mine\n" {
		t.Errorf("user's file overwritten: %q", got)
	}
	// No defaults (outside the image): nothing happens, no panic.
	SeedDefaults(slog.New(slog.DiscardHandler), filepath.Join(defaults, "missing"), data)
}
