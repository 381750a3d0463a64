// Package jetwebhooks holds the service's contract: the OpenAPI document,
// exactly as written in openapi.yaml. The server serves these bytes at
// /openapi.yaml; code generators and other tools can take them from here.
//
// The client is in package client, the server in package server, signature
// verification for receivers in package signature.
package jetwebhooks

import _ "embed"

// OpenAPI is openapi.yaml, byte for byte: the single source of truth from
// which gen/ is generated and against which every request is validated.
//
//go:embed openapi.yaml
var OpenAPI []byte
