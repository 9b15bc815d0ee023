// Package merkle is the Merkle tree of the Amtsnetz message logs, as in
// Certificate Transparency (RFC 6962, RFC 9162 section 2.1): a leaf is
// hashed as SHA-256(0x00 ‖ data), an inner node as SHA-256(0x01 ‖ left ‖
// right), and a tree of n leaves splits at the largest power of two below
// n. Domain separation keeps a leaf from passing for a node.
//
// An inclusion proof shows that a record is leaf i of the tree of size n
// with a given root; a consistency proof shows that the tree of size m is
// a prefix of the tree of size n — that the log only appended. Both are
// verified with the root hashes alone, so a member that keeps the signed
// tree heads it saw can hold a log to them.
//
// Tree keeps the leaf hashes and the hashes of complete subtrees in memory
// (about 64 bytes a leaf: a million messages take 64 MB); a record's
// content is not needed once its leaf hash is stored, so records may be
// deleted after their retention period and the tree stays verifiable.
package merkle

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
)

// Hash is a SHA-256 hash.
type Hash = [sha256.Size]byte

// LeafHash is the hash of a leaf with data.
func LeafHash(data []byte) Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(data)
	var out Hash
	h.Sum(out[:0])
	return out
}

// NodeHash is the hash of an inner node.
func NodeHash(left, right Hash) Hash {
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(left[:])
	h.Write(right[:])
	var out Hash
	h.Sum(out[:0])
	return out
}

// EmptyRoot is the root of the tree without leaves: SHA-256 of nothing.
var EmptyRoot = sha256.Sum256(nil)

// Tree is a Merkle tree over leaf hashes. Besides the leaves it keeps the
// hash of every complete, aligned subtree (levels[k][j] covers leaves
// j·2^k … (j+1)·2^k − 1), made once when its last leaf arrives: a root or
// a proof then takes O(log² n) hashes instead of rehashing all n leaves.
type Tree struct {
	levels [][]Hash // levels[0] are the leaves
}

// Append adds a leaf (its hash) and returns its index.
func (t *Tree) Append(leaf Hash) int {
	if len(t.levels) == 0 {
		t.levels = [][]Hash{nil}
	}
	t.levels[0] = append(t.levels[0], leaf)
	i := len(t.levels[0]) - 1
	for k := 0; i%2 == 1; k++ {
		if len(t.levels) == k+1 {
			t.levels = append(t.levels, nil)
		}
		t.levels[k+1] = append(t.levels[k+1], NodeHash(t.levels[k][i-1], t.levels[k][i]))
		i /= 2
	}
	return len(t.levels[0]) - 1
}

// Size is the number of leaves.
func (t *Tree) Size() int {
	if len(t.levels) == 0 {
		return 0
	}
	return len(t.levels[0])
}

// Leaf returns the hash of leaf i.
func (t *Tree) Leaf(i int) Hash { return t.levels[0][i] }

// ErrRange: a size or index outside the tree.
var ErrRange = errors.New("merkle: size or index out of range")

// Root is the root hash of the tree of the first n leaves.
func (t *Tree) Root(n int) (Hash, error) {
	if n < 0 || n > t.Size() {
		return Hash{}, ErrRange
	}
	if n == 0 {
		return EmptyRoot, nil
	}
	return t.mth(0, n), nil
}

// split is the largest power of two smaller than n (n > 1).
func split(n int) int {
	return 1 << (bits.Len(uint(n-1)) - 1)
}

// mth is MTH of the n leaves from lo (n ≥ 1). An aligned power-of-two
// range is a stored node; the RFC's split keeps every left part aligned.
func (t *Tree) mth(lo, n int) Hash {
	if n&(n-1) == 0 && lo%n == 0 {
		k := bits.TrailingZeros(uint(n))
		return t.levels[k][lo/n]
	}
	k := split(n)
	return NodeHash(t.mth(lo, k), t.mth(lo+k, n-k))
}

// InclusionProof is the audit path of leaf i in the tree of size n
// (RFC 9162 2.1.3.1), from the leaf's sibling up.
func (t *Tree) InclusionProof(i, n int) ([]Hash, error) {
	if n < 1 || n > t.Size() || i < 0 || i >= n {
		return nil, ErrRange
	}
	return t.path(i, 0, n), nil
}

func (t *Tree) path(m, lo, n int) []Hash {
	if n == 1 {
		return nil
	}
	k := split(n)
	if m < k {
		return append(t.path(m, lo, k), t.mth(lo+k, n-k))
	}
	return append(t.path(m-k, lo+k, n-k), t.mth(lo, k))
}

// ConsistencyProof proves that the tree of size m is a prefix of the tree
// of size n (RFC 9162 2.1.4.1); empty for m == n or m == 0.
func (t *Tree) ConsistencyProof(m, n int) ([]Hash, error) {
	if m < 0 || m > n || n > t.Size() {
		return nil, ErrRange
	}
	if m == 0 || m == n {
		return nil, nil
	}
	return t.subproof(m, 0, n, true), nil
}

func (t *Tree) subproof(m, lo, n int, b bool) []Hash {
	if m == n {
		if b {
			return nil
		}
		return []Hash{t.mth(lo, n)}
	}
	k := split(n)
	if m <= k {
		return append(t.subproof(m, lo, k, b), t.mth(lo+k, n-k))
	}
	return append(t.subproof(m-k, lo+k, n-k, false), t.mth(lo, k))
}

// ErrProof: the proof does not lead to the root.
var ErrProof = errors.New("merkle: proof does not match the root")

// VerifyInclusion checks that leaf is leaf i of the tree of size n with
// root (RFC 9162 2.1.3.2).
func VerifyInclusion(leaf Hash, i, n int, proof []Hash, root Hash) error {
	if i < 0 || i >= n {
		return ErrRange
	}
	fn, sn := uint64(i), uint64(n-1)
	r := leaf
	for _, p := range proof {
		if sn == 0 {
			return ErrProof
		}
		if fn&1 == 1 || fn == sn {
			r = NodeHash(p, r)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = NodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || r != root {
		return ErrProof
	}
	return nil
}

// VerifyConsistency checks that the tree of size m with root1 is a prefix
// of the tree of size n with root2 (RFC 9162 2.1.4.2).
func VerifyConsistency(m, n int, root1, root2 Hash, proof []Hash) error {
	switch {
	case m < 0 || m > n:
		return ErrRange
	case m == n:
		if len(proof) != 0 || root1 != root2 {
			return ErrProof
		}
		return nil
	case m == 0:
		if len(proof) != 0 {
			return ErrProof
		}
		return nil
	case len(proof) == 0:
		return ErrProof
	}
	// If m is a power of two, the first tree's root is the first node.
	if m&(m-1) == 0 {
		proof = append([]Hash{root1}, proof...)
	}
	fn, sn := uint64(m-1), uint64(n-1)
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := proof[0], proof[0]
	for _, c := range proof[1:] {
		if sn == 0 {
			return ErrProof
		}
		if fn&1 == 1 || fn == sn {
			fr = NodeHash(c, fr)
			sr = NodeHash(c, sr)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			sr = NodeHash(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || fr != root1 || sr != root2 {
		return ErrProof
	}
	return nil
}

// String shows a hash in hex (for messages).
func String(h Hash) string { return fmt.Sprintf("%x", h[:]) }
