//go:build tools

// This file pins the versions of the tools the Makefile runs with `go run`
// in go.mod: the code generator (`make generate`) and staticcheck (`make lint`),
// so every machine builds the same ones.

package jetwebhooks

import (
	_ "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen"
	_ "honnef.co/go/tools/cmd/staticcheck"
)
