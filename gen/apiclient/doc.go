// Package apiclient is the low-level HTTP client generated from openapi.yaml
// by `make generate` (oapi-codegen, configured by cfg.yaml beside it). The
// generated file is rewritten on every run and never edited; this package
// comment, in doc.go, is written by hand and make generate leaves it alone.
//
// Most programs should import package client instead: a typed layer over this
// one with retries, idempotency keys, paging and errors as Go values (start
// with client.New).
package apiclient
