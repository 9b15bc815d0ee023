// Package amtsnetz is Rathaus's exchange between offices (issue #5), on
// the model of X-Road: every organisation runs its own node (gateway);
// nodes talk over mutual TLS with certificates of the network's CA; every
// request and response is signed by the member and logged at both ends
// in an append-only Merkle tree; a signed directory says who may call
// which service; nodes keep working from a cached directory when the
// centre is down.
//
// What exists so far:
//
//   - pki: the root CA, member certificates (BSI TR-02102 keys), the TLS
//     configurations of both ends (TLS 1.2/1.3, AES-GCM), rathaus pki.
//   - merkle: the RFC 6962/9162 tree with inclusion and consistency proofs.
//   - message: the signed message — body as is, JWS with detached payload
//     carrying message ID, client, service, purpose, file reference, time.
//   - msglog: the message log on the Merkle tree, signed tree heads,
//     retention that keeps the tree verifiable, rathaus log verify.
//   - directory: the signed directory (members, nodes, certificates,
//     services, who may call what) and the node's cache with a grace
//     period.
//   - node: the provider side (checks certificate, directory entry,
//     signature, time, service, permission and replay; logs; forwards to
//     the backend; signs and logs the answer) and the consumer side
//     (Client: signs, logs, calls over mutual TLS, checks the answer's
//     signer, retries idempotent calls with backoff, circuit breaker).
//   - adapters: the registers (registration office, vehicle register,
//     treasury) as Amtsnetz services: clients that implement the
//     registers interfaces and validate every answer, and backends that
//     answer from a register implementation.
//
// Still to build (see the issue): the process around it (rathaus node
// --config with backends over HTTP, SQL or CSV; fetching the directory
// on a schedule; signing tree heads on a schedule), wiring the adapters
// into the parking service (serve and the demo), OGC API Features, the demo
// topology with its nodes on loopback and the multi-process test.
package amtsnetz
