// Package jetwebhooks holds the service's contract: the OpenAPI document,
// exactly as written in openapi.yaml. The server serves these bytes at
// /openapi.yaml; code generators and other tools can take them from here.
//
// Most programs import one of the module's other public packages instead:
//
//   - client: the Go client of the API (start with client.New).
//   - signature: verifying deliveries in a receiver (signature.NewVerifier).
//   - server: the service embedded in a Go program (server.Open or server.New).
//   - server/store: the storage contract, with its backends server/store/sqlitestore
//     and server/store/pgstore and its conformance suite server/store/storetest.
//   - server/servertest: a real server for other packages' tests.
//   - gen/models, gen/apiserver, gen/apiclient: code generated from openapi.yaml
//     (client re-exports what its users need).
//
// Everything else lives under internal/ and is not for import.
package jetwebhooks

import _ "embed"

// OpenAPI is openapi.yaml, byte for byte: the single source of truth from
// which gen/ is generated and against which every request is validated.
//
//go:embed openapi.yaml
var OpenAPI []byte
