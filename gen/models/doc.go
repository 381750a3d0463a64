// Package models holds the request and response types generated from
// openapi.yaml by `make generate` (oapi-codegen, configured by cfg.yaml
// beside it). The generated file is rewritten on every run and never edited;
// this package comment, in doc.go, is written by hand and make generate
// leaves it alone.
//
// Most programs should import package client instead: it re-exports the types
// its users need under the same names (client.Webhook, client.Event, …) and
// sends them for you (start with client.New). Import models directly only for
// a type client does not re-export, or from gen/apiserver implementations.
package models
