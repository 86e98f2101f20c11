package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"hash"
	"sync"
)

// HS256 verification without per-token setup.
//
// hmac.New hashes the padded secret (one SHA-256 block) and allocates two
// digests and two pads for every token. A verifier instead keeps, per
// HS256 key of its static set (JWKS never holds one), a pool of HMAC
// states that have been Reset once: crypto/hmac then keeps the inner and
// outer digest states after the key blocks (marshaled, as FIPS 198-1 §6
// allows) and restores them on Reset and Sum instead of hashing the key
// again. A token costs its own blocks, the outer block and no allocation.
// The precomputed states are as secret as the key; they never leave the
// pool.

// macPool is the pool of HMAC-SHA256 states of one secret.
type macPool struct{ pool sync.Pool }

// macState is one pooled HMAC with room for its sum.
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

func newMACPool(secret []byte) *macPool {
	p := &macPool{}
	p.pool.New = func() any {
		h := hmac.New(sha256.New, secret)
		h.Reset() // from now on Reset and Sum restore precomputed states
		return &macState{h: h}
	}
	return p
}

// verify reports whether sig is the HMAC-SHA256 of in, compared in
// constant time.
func (p *macPool) verify(in, sig []byte) bool {
	st := p.pool.Get().(*macState)
	st.h.Reset()
	st.h.Write(in)
	ok := hmac.Equal(st.h.Sum(st.sum[:0]), sig)
	st.h.Reset() // drop the token's state before the pool keeps it
	p.pool.Put(st)
	return ok
}

// macPools returns the HMAC pools of the HS256 keys of ks, by key id, or
// nil when it has none.
func macPools(ks *keySet) map[string]*macPool {
	var m map[string]*macPool
	for kid, k := range ks.byKID {
		if k.alg != HS256 {
			continue
		}
		if m == nil {
			m = make(map[string]*macPool)
		}
		m[kid] = newMACPool(k.key.([]byte))
	}
	return m
}

// checkSignature is verifySignature with the verifier's precomputed HMAC
// states for its static HS256 keys.
func (v *Verifier) checkSignature(k PublicKey, signingInput, sig []byte) bool {
	if k.alg == HS256 && v.static != nil {
		if p := v.macs[k.kid]; p != nil {
			return len(sig) == sha256.Size && p.verify(signingInput, sig)
		}
	}
	return verifySignature(k, signingInput, sig)
}
