// Package apiserver is the Echo server interface generated from openapi.yaml
// by `make generate` (oapi-codegen, configured by cfg.yaml beside it): the
// routes, request decoding and StrictServerInterface, one method per
// operation. The generated file is rewritten on every run and never edited;
// this package comment, in doc.go, is written by hand and make generate
// leaves it alone.
//
// Programs talking to a server import package client instead (client.New).
// A program embedding the server names StrictServerInterface only to replace
// some operations through server.Config.Handlers, typically by embedding
// server.Unimplemented or the implementation it is given.
package apiserver
