// Command phpinit is the init and supervisor for nginx + php-fpm containers.
package main

import (
	"os"

	"github.com/phpinit/phpinit/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr))
}
