package merkle

import (
	"encoding/hex"
	"errors"
	"testing"
)

// The test vectors of the Certificate Transparency reference
// implementation (RFC 6962): eight leaves, the roots of the trees of
// their first 1..8, and some proofs.
var vectorLeaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}

var vectorRoots = []string{
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

func h(t *testing.T, s string) Hash {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("bad hash %q", s)
	}
	return Hash(b)
}

func vectorTree(t *testing.T) *Tree {
	t.Helper()
	var tr Tree
	for _, l := range vectorLeaves {
		b, _ := hex.DecodeString(l)
		tr.Append(LeafHash(b))
	}
	return &tr
}

func TestVectors(t *testing.T) {
	tr := vectorTree(t)
	if r, _ := tr.Root(0); String(r) != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("empty root %s", String(r))
	}
	for n := 1; n <= 8; n++ {
		if r, err := tr.Root(n); err != nil || String(r) != vectorRoots[n-1] {
			t.Errorf("root of %d: %s, %v; want %s", n, String(r), err, vectorRoots[n-1])
		}
	}
	for _, tc := range []struct {
		i, n  int
		proof []string
	}{
		{0, 8, []string{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
		{5, 8, []string{"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
			"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
	} {
		got, err := tr.InclusionProof(tc.i, tc.n)
		if err != nil || len(got) != len(tc.proof) {
			t.Fatalf("inclusion %d in %d: %d hashes, %v", tc.i, tc.n, len(got), err)
		}
		for k := range got {
			if String(got[k]) != tc.proof[k] {
				t.Errorf("inclusion %d in %d, hash %d: %s, want %s", tc.i, tc.n, k, String(got[k]), tc.proof[k])
			}
		}
	}
	for _, tc := range []struct {
		m, n  int
		proof []string
	}{
		{1, 8, []string{"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
			"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
		{6, 8, []string{"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
			"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
	} {
		got, err := tr.ConsistencyProof(tc.m, tc.n)
		if err != nil || len(got) != len(tc.proof) {
			t.Fatalf("consistency %d→%d: %d hashes, %v", tc.m, tc.n, len(got), err)
		}
		for k := range got {
			if String(got[k]) != tc.proof[k] {
				t.Errorf("consistency %d→%d, hash %d: %s, want %s", tc.m, tc.n, k, String(got[k]), tc.proof[k])
			}
		}
	}
}

// Every inclusion and consistency proof of trees up to 70 leaves verifies,
// and fails for another leaf, index, size, root or a changed proof hash.
func TestProofsVerifyAndDetect(t *testing.T) {
	var tr Tree
	for i := range 70 {
		tr.Append(LeafHash([]byte{byte(i), byte(i >> 8), 'x'}))
	}
	for n := 1; n <= tr.Size(); n++ {
		root, _ := tr.Root(n)
		for i := range n {
			p, err := tr.InclusionProof(i, n)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(tr.Leaf(i), i, n, p, root); err != nil {
				t.Fatalf("inclusion %d in %d: %v", i, n, err)
			}
			if VerifyInclusion(LeafHash([]byte("fremd")), i, n, p, root) == nil {
				t.Fatalf("inclusion %d in %d: another leaf passes", i, n)
			}
			if n > 1 && VerifyInclusion(tr.Leaf(i), (i+1)%n, n, p, root) == nil {
				t.Fatalf("inclusion %d in %d: another index passes", i, n)
			}
			if len(p) > 0 {
				bad := append([]Hash(nil), p...)
				bad[len(bad)/2][0] ^= 1
				if VerifyInclusion(tr.Leaf(i), i, n, bad, root) == nil {
					t.Fatalf("inclusion %d in %d: a changed proof passes", i, n)
				}
			}
		}
		for m := 1; m <= n; m++ {
			r1, _ := tr.Root(m)
			p, err := tr.ConsistencyProof(m, n)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(m, n, r1, root, p); err != nil {
				t.Fatalf("consistency %d→%d: %v", m, n, err)
			}
			if m < n {
				other := r1
				other[3] ^= 1
				if VerifyConsistency(m, n, other, root, p) == nil {
					t.Fatalf("consistency %d→%d: another old root passes", m, n)
				}
				if VerifyConsistency(m, n, r1, other, p) == nil || VerifyConsistency(m, n, r1, LeafHash(nil), p) == nil {
					t.Fatalf("consistency %d→%d: another new root passes", m, n)
				}
			}
		}
	}
	// A log that rewrote leaf 3 is not consistent with its earlier head.
	var rewritten Tree
	for i := range 10 {
		d := []byte{byte(i), 0, 'x'}
		if i == 3 {
			d = []byte("anders")
		}
		rewritten.Append(LeafHash(d))
	}
	old, _ := tr.Root(5)
	now, _ := rewritten.Root(10)
	p, _ := rewritten.ConsistencyProof(5, 10)
	if err := VerifyConsistency(5, 10, old, now, p); !errors.Is(err, ErrProof) {
		t.Errorf("rewritten log: %v, want ErrProof", err)
	}
	if _, err := tr.InclusionProof(5, 3); !errors.Is(err, ErrRange) {
		t.Errorf("index beyond size: %v", err)
	}
}
