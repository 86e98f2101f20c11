// Package token turns a signed JWT into a [capability.Capability], and a
// capability back into a signed JWT: an [Issuer] mints tokens, a [Verifier]
// verifies them, with keys from [NewSigningKey], [NewPublicKey],
// [GenerateKey] or a JWKS URL.
//
// This package is the trust boundary of the whole library: everything
// after it (sqlguard, the middleware, the application) believes what the
// capability it returns says. The wire formats (claims profiles, strict
// JSON, the compact profile's bit stream) and the benchmark tables are at
// the end of this documentation.
//
// # Trust and failure
//
// The package trusts its configuration (the [capability.Roles] hierarchy, the
// [capability.GroupKind], the keys, issuer and audience given to a [Verifier],
// a [ClaimMapping]) and nothing in a token until its signature has verified
// with a pinned key and algorithm. After that, it still trusts only what it can
// type exactly: claims are decoded by a strict decoder built for these shapes
// (not by encoding/json into maps), and anything it does not understand in a
// grant rejects the token. It fails closed: a token that cannot be read
// completely and unambiguously is rejected with a *[TokenError] that wraps
// [ErrInvalidToken] and one reason sentinel; it is never partially accepted,
// and an ill-typed value is never coerced. Error messages name the claim and
// the problem, never a claim value or the token.
//
// # Keys, signing and verification
//
// Keys are validated when loaded ([NewSigningKey], [NewPublicKey], JWKS
// documents): EdDSA takes Ed25519, ES256 a P-256 point on the curve, RS* and PS*
// 2048..8192-bit moduli, HS256 secrets of at least 32 bytes; key ids are
// 1..128 printable ASCII characters. A verifier's key set never mixes HS256
// secrets with public keys, never repeats a key id, and HS256 is never read
// from a JWKS URL. Keys print as their algorithm and kid only.
//
// An [Issuer] signs with jwx (jws.Sign; protected header alg, kid, typ "JWT"
// and nothing else) and sets iss, iat, exp and a random 128-bit jti. It
// rotates atomically: old public keys stay published ([Issuer.PublicKeys],
// [Issuer.JWKS]) until [Issuer.RemoveKey]. JWKS never contains an HS256
// secret; an HS256-only issuer publishes {"keys":[]}.
//
// [Verifier.Verify] fails closed in this order: size (MaxTokenSize, before
// any decoding); compact serialization only, three parts of canonical
// unpadded base64url (no JSON serialization, no JWE, no line breaks); a
// protected header of only alg, kid and typ ("JWT"), so jwk, jku, x5u, x5c,
// x5t, crit, b64, cty, enc and zip are refused; alg pinned by
// VerifierOptions.Algorithms and equal to the algorithm of the key found by
// kid; the signature, checked with the standard library over the already
// split input (exact signature length; ES256 is r||s only); then the claims
// (strict decoder), exp/nbf/iat with Skew, the lifetime bound, iss, aud and
// the grants. The kid is untrusted: it is only a map key, bounded in length,
// and reported in TokenError.KeyID for the caller to escape.
//
// With VerifierOptions.JWKSURL, keys come from httprc v3 (the machinery of
// jwx's jwk.Cache): an http.Client with a timeout (default 10 s), a body cap
// (JWKSMaxBody, default 1 MiB, enforced twice), https only (http for
// loopback), no https->http redirects, a whitelist of that one URL. The
// rule for the set in force: a fetch that fails (network, HTTP status other
// than 200, size, JSON that does not parse) keeps the last good key set; a
// 200 response whose JSON parses is the truth and is installed at once, even
// when it holds no usable key, in which case every token is refused with
// ErrUnknownKey (publishing a set without a key revokes it, at the next
// refresh); and a set that no fetch has confirmed for JWKSMaxStale
// (default 24 h, measured with VerifierOptions.Now) is dropped, failing
// closed until a fetch succeeds. The first fetch, in [NewVerifier], must
// succeed and hold a usable key. An unknown kid forces at most one refresh
// per JWKSMinRefresh (default 5 min, measured with VerifierOptions.Now)
// however many arrive, then the lookup is retried once; a request whose
// context is already done does not use up that refresh, and a started
// refresh runs to its end (bounded by the client's timeout) whatever
// happens to the request. Keys of the document whose use is not "sig",
// whose key_ops lack "verify", whose alg is not pinned, which are symmetric
// or fail validation are skipped; a kid that appears twice is dropped.
// [Verifier.Refresh] forces a fetch; [Verifier.Close] stops the background
// refresh.
//
// # Identity providers
//
// A Verifier accepts tokens from OpenID Connect providers (Auth0, Okta,
// Keycloak, Entra ID, Google, Dex): with VerifierOptions.Discovery it reads
// the JWKS URL from <Issuer>/.well-known/openid-configuration, whose
// "issuer" must equal Issuer exactly (https only, loopback excepted;
// size-capped, strict JSON), then keeps that key set fresh as below;
// [ClaimMapping] reads the providers' groups and role claims. Supported
// algorithms are EdDSA, ES256, ES384, ES512 (r||s signatures of 64, 96 and
// 132 bytes), RS256, RS384, RS512, PS256, PS384, PS512 (RSASSA-PSS with a
// salt equal to the hash length, as RFC 7518 requires; other salt lengths
// are refused) and HS256. Every key is pinned to one algorithm, so one RSA
// key is never both RS256 and PS256, and no public key is ever an HMAC
// secret. Keys are refused when loaded if they are for encryption (use
// other than "sig", key_ops without "verify": [ParsePublicJWK] and JWKS
// documents alike), of the wrong curve or size, or an RSA modulus with the
// ROCA fingerprint (CVE-2017-15361, [HasROCAFingerprint]). A token without
// a non-empty sub is refused: sqlguard binds the subject for owner and
// author columns.
//
// # Verified-token cache
//
// A signature check is most of what verification costs (RS256: about
// 30 µs, half the CPU the guard adds to a forum request), and a client
// sends the same token with every request until it expires. Like
// PostgREST (jwt-cache-max-lifetime) and Envoy's JWT filter
// (jwt_cache_config), a [Verifier] keeps the capabilities of tokens it has
// verified, and it does so by default: a hit answers in about 0.2 µs.
//
// The cache never gives an answer Verify would not give at that moment:
//
//   - The key is the whole token string (a private copy), never a prefix
//     or a hash; the value is the same immutable *capability.Capability.
//   - Every hit re-applies Verify's time rules with VerifierOptions.Now and
//     Skew: exp, nbf, iat and the lifetime bound. A token is never
//     answered before its nbf, nor from its exp on.
//   - An entry is tagged with the key set in force when its verification
//     began, and used only while that same set is in force. Every JWKS
//     fetch (JWKSURL or Discovery) that installs a document (a rotation, a
//     removed key, a set
//     without usable keys) and a set dropped as stale replaces the set,
//     so one comparison at lookup empties the cache at once: a removed key
//     stops working exactly when it did without the cache. A static key
//     set never changes. (A refetch of an identical document empties the
//     cache too, at the cost of one signature check per token.)
//   - Issuer, audience, roles, group kind, mapping and limits are fixed per
//     verifier. Failures are never cached.
//   - An entry is used for at most CacheMaxAge (default
//     [DefaultCacheMaxAge], one minute) after its verification began, so
//     that a token string and its capability stay in memory no longer than
//     that after their last check, whatever their exp; at one request per
//     second, a client's token is then checked once a minute instead of
//     sixty times.
//   - Memory is bounded: at most CacheEntries entries (default
//     [DefaultCacheEntries]), in up to 16 locked shards, each evicting one
//     entry when full (the first expired or superseded one among a few
//     sampled from the map's random iteration, else the first sampled),
//     and tokens longer than [MaxCachedTokenSize] are verified every time.
//   - Concurrent misses on one token check its signature once: the others
//     wait for that result. A failure reaches only those waiters, and not
//     even them when the first caller's context was done (they verify for
//     themselves); a waiter whose own context is done stops waiting and
//     verifies itself, as it would without the cache.
//
// The cache is on by default because it changes no decision, only the
// cost, and its memory is bounded. What it changes: a hit is faster than a
// miss (a timing difference that tells whether a token was used recently,
// which only its holder can ask), and the capability of a token is the
// same pointer across requests, so values memoized on its group sets are
// reused. VerifierOptions.NoCache turns it off. The verifier also
// remembers the last protected header it parsed (compared whole), which
// tokens of one key share.
//
// # Claim mapping
//
// A [ClaimMapping] given to the Verifier reads other identity providers'
// shapes instead of the two profiles above:
//
//   - GroupsClaim, e.g. "groups" (Okta, Azure AD, Keycloak's group mapper): a
//     top-level array of group ids, each granted DefaultRole. Ids are strings
//     in capability.ParseGroup's form; for KindInt64 also JSON integers, and a
//     decimal string must be canonical ("7", not "07", "+7", "7.0" or "-0").
//   - RolesPath, e.g. ["realm_access","roles"] or
//     ["resource_access","forum","roles"] (Keycloak): the path of object
//     members to an array of entries. An entry is a string
//     "<role>:<group>" (split at the first ':', which role names cannot
//     contain: "moderator:7", "member:/forum/readers"), an object
//     {"group":…,"role":"…"} as in the default profile, or the string
//     AdminRole, which sets the admin override. Other strings are rejected,
//     or skipped with IgnoreOtherRoles (for an identity provider's own
//     roles such as "offline_access"); an unknown role before a ':' is
//     always rejected.
//
// With a mapping, the token's own "admin", "permissions" and "grants"
// claims are not read: the override and the grants come only from the
// mapped claims, so a provider's unrelated claim of the same name is never
// taken for a keyhole grant. A mapped claim that is absent grants nothing;
// one that is present with another shape rejects the token. The registered
// claims (exp, iat, nbf, iss, aud, sub, jti) are read and checked exactly as
// in the profiles, and a mapping may not redirect them. The mapping is
// validated once, by NewVerifier (see [ErrBadMapping]).
//
// # Wire formats
//
// The rest of this documentation is the exact format keyhole reads and
// writes, and why each rule exists.
//
// # Claims
//
// Both profiles below, and mapped claims, verify through the same Verifier;
// the profile of a token is recognised by its grants claim: "permissions"
// (default) or "grants" (compact). A token with both is rejected; a token
// with neither has no grants. The Issuer writes the profile of
// IssuerOptions.Profile.
//
// The registered claims are the same in every profile:
//
//   - "exp" (required), "iat", "nbf": NumericDate integers, written without
//     fraction or exponent, from 0 to 253402300799 (9999-12-31T23:59:59Z);
//     "exp" must be positive. 1.5e9, 1795000900.0, "1795000900", -0 and null
//     are rejected.
//   - "sub", "iss", "jti", "sid" (the session id: see SessionID of
//     capability.Capability): strings. null, numbers and strings
//     containing NUL are rejected.
//   - "aud": a string, or an array of strings (written as a string when
//     there is one audience).
//   - "admin": true grants the override. false is accepted and means the
//     same as an absent claim (an issuer may write it explicitly); any other
//     value, "true" included, is rejected. The Issuer writes it only when
//     true.
//
// Every other top-level claim is ignored, since identity providers add
// their own, but it must still be strict JSON (below).
//
// # Strict JSON
//
// The payload (and the JOSE header, checked the same way) must be exactly
// one JSON object as RFC 8259 defines it, and more:
//
//   - valid UTF-8 everywhere, in raw bytes and in escapes: a lone surrogate
//     escape such as \ud800 is rejected;
//   - no duplicate keys in any object at any depth, comparing the decoded
//     keys (so "sub" and "s\u0075b" are duplicates);
//   - nothing after the object except JSON whitespace;
//   - at most 32 levels of nesting;
//   - integers (group ids, NumericDates) are converted exactly from their
//     digits, never through float64, so int64 ids survive up to 2^63-1 and
//     down to -2^63; an integer outside int64 is rejected, not rounded.
//
// The scanner is internal/strictjson; its differential fuzz tests hold it
// against encoding/json/jsontext (GOEXPERIMENT=jsonv2), configured to
// reject duplicate names and invalid UTF-8: both accept the same objects,
// short of the nesting bound, and decode strings to the same bytes.
//
// # Default profile
//
// The design notes' shape, one object per grant:
//
//	{"sub":"alice","iss":"https://auth.example.com","aud":"forum","jti":"…",
//	 "iat":1795000000,"exp":1795000900,"admin":true,
//	 "permissions":[{"group":7,"role":"member"},{"group":7,"role":"moderator"}]}
//
// Each permission has exactly the members "group" and "role"; a missing or
// unknown member rejects the token (an unknown member might be a restriction
// this decoder would otherwise silently drop). The role must be declared in the
// verifier's hierarchy ("none" is not a role a token can carry). The group is a
// JSON integer for [capability.KindInt64] (1.0, 1e3, "1" and -0 are rejected)
// and a JSON string for [capability.KindUUID] (8-4-4-4-12 hex) and
// [capability.KindText] (as [capability.ParseGroup] accepts). The Issuer writes
// permissions sorted by group, then role, without duplicates; the decoder
// accepts any order and New merges duplicates. A grant costs about 33 bytes, so
// an 8 KiB token holds about 180 of them: users in many groups need the compact
// profile.
//
// # Compact profile
//
// Grants are grouped by role:
//
//	"grants":{"<role>":<ids>,…}
//
// The members are the roles that hold at least one grant, in ascending
// byte order of their names (so a repeated role is also out of order), each
// a declared role. Every role's ids are a non-empty set, sorted ascending,
// without duplicates. One set of grants has exactly one compact encoding
// (whitespace and JSON string escapes aside), and the decoder rejects every
// other.
//
// For [capability.KindUUID] and [capability.KindText], <ids> is an array of
// strings: UUIDs in lowercase canonical form, text ids as in the default
// profile, strictly ascending in byte order of the decoded strings.
//
// For [capability.KindInt64], <ids> is one string: the unpadded base64url
// encoding (RFC 4648 §5, alphabet A–Z a–z 0–9 - _, no '=', no escapes, no
// whitespace) of a bit stream, read most significant bit first:
//
//	uvarint(n)             the number of ids, n >= 1
//	uvarint(zigzag(v[0]))  the smallest id
//	byte k                 only when n >= 2: the Rice parameter, 0..63
//	n-1 Rice codes         of d[i] = v[i] - v[i-1] - 1 >= 0, for i = 1..n-1:
//	                       q = d>>k zero bits, a one bit, then the low k
//	                       bits of d, most significant first
//	zero bits              up to the next byte boundary
//
// uvarint is unsigned LEB128 (7 bits per byte, least significant group
// first, high bit set on every byte but the last) in its minimal form: at
// most 10 bytes, no redundant trailing zero group. zigzag maps an int64 v to
// the uint64 (v<<1) ^ (v>>63), so that small negative ids stay small.
// Because gaps are stored minus one, duplicate and unsorted ids cannot be
// written at all. k is not a free choice: it must equal
// floor(log2(floor(S/(n-1)))), or 0 when that mean is 0, where S is the sum
// of the d[i]; the decoder recomputes it from the ids it read. The decoder
// also rejects a varint that is not minimal or overflows, a k above 63, an id
// beyond 2^63-1 (the sum is checked before it is formed), a non-zero padding
// bit, a byte or character more than the stream needs, and base64 whose
// unused trailing bits are not zero. The count n is checked against the
// verifier's MaxGrants before anything is allocated for the ids. The bit
// codec is internal/rice.
//
// Worked example: member in groups 1, 2, 3, 5, 8, 13, 21, 1000, moderator in
// group 7, admin in group -3:
//
//	"grants":{"admin":"AQU","member":"CAIHgICBgoSHAaQ","moderator":"AQ4"}
//
// "CAIHgICBgoSHAaQ" is the bytes 08 02 07 80 80 81 82 84 87 01 a4: n=8,
// zigzag(1)=2, k=7 (the gaps minus one are 0,0,1,2,4,7,978, S=992,
// floor(992/7)=141, floor(log2 141)=7), then the codes 1|0000000,
// 1|0000000, 1|0000001, 1|0000010, 1|0000100, 1|0000111,
// 0000000 1|1010010 (978 = 7<<7 + 82) and one zero bit of padding. "AQU" is
// 01 05: one id, zigzag(-3)=5.
//
// Rice coding spends about log2(mean gap)+2 bits per id whatever the ids
// are: consecutive ids cost one bit each, and 1,000 ids spread anywhere
// below 10^6 cost at most about 12 bits each (≈1.5 KB, ≈2 KB as base64url),
// so that such a token, signed with EdDSA and carrying the usual claims,
// stays under 4 KiB and fits in one cookie (TestCompactFitsCookie measures
// 0.7 KB for 1,000 consecutive ids and 2.9–3.4 KB for 1,000 evenly spread,
// random or skewed ids below 10^6, over one or three roles).
//
// # Performance
//
// Verify decodes the verified payload in one pass straight into per-role
// lists of group ids (both profiles; mapped claims go through New) and
// builds each role's [capability.GroupSet] by merging the sorted lists of
// the held roles that include it. The []Grant of
// [capability.Capability.Grants] and [capability.Capability.Params] is built
// on first use, once. The grants of the compact profile arrive grouped by
// role and sorted, so nothing is sorted; default
// profile permissions in any other order are sorted per role, duplicates
// merged.
//
// Verify, without the verified-token cache, against the bare
// standard-library signature check of the same token bytes (the floor):
// BenchmarkVerifyRatio alternates one Verify and one floor check per
// iteration and reports the ratio of their medians as "x-floor", so that
// other load on the machine affects both sides alike. Allocations per
// Verify are from BenchmarkVerify (the floor allocates 0 for EdDSA, 10 for
// ES256, 9 for RS256, 6 for HS256). Tokens carry the forum's three roles,
// ids spread below 10^6; the 1,000-grant default tokens need a raised
// MaxTokenSize.
//
//	case                       token     floor   x-floor  allocs  B/op
//	EdDSA/grants=3              469 B    50 µs    1.05x     12     2.2 KB
//	EdDSA/grants=100            4.8 KB   58 µs    1.21x     15     15 KB
//	EdDSA/grants=1000          45.2 KB  130 µs    1.64x     15    119 KB
//	EdDSA-compact/grants=1000   1.7 KB   53 µs    1.36x     13     33 KB
//	ES256/grants=3              469 B    80 µs    1.03x     23     2.8 KB
//	ES256/grants=100            4.8 KB   83 µs    1.15x     26     16 KB
//	ES256/grants=1000          45.2 KB  111 µs    1.78x     26    120 KB
//	RS256/grants=3              725 B    32 µs    1.08x     21     3.8 KB
//	RS256/grants=100            5.1 KB   35 µs    1.36x     24     16 KB
//	RS256/grants=1000          45.5 KB   62 µs    2.51x     24    121 KB
//	HS256/grants=3              426 B   0.9 µs    2.6x      12     2.0 KB
//	HS256/grants=100            4.8 KB  3.9 µs    3.6x      15     15 KB
//	HS256/grants=1000          45.2 KB   32 µs    3.5x      15    119 KB
//
// HS256 verifies with HMAC states precomputed once per key and pooled (no
// hmac.New per token, no allocation), and every algorithm skips the
// decoding of a protected header equal to the last one. A hit of the
// verified-token cache (BenchmarkVerifyCachedRatio, same method) takes
// 0.16–0.2 µs for the 3-grant tokens and 0.3 µs for the 1.7 KB compact
// one: 0.003x the EdDSA floor, 0.006x RS256's, 0.19x HS256's.
//
// The ratios are from one run (1,000 iterations each) on a shared 2-core
// machine (AMD EPYC, Go 1.26.8, linux/amd64), so read the ratios, not the
// times. HS256's floor is a microsecond: its ratio shows the fixed cost of
// reading a token, not a budget. The commands:
//
//	go test -run '^$' -bench 'VerifyRatio' -benchtime 1000x ./capability/token
//	go test -run '^$' -bench 'VerifyCachedRatio' -benchtime 1000x ./capability/token
//	go test -run '^$' -bench '^Benchmark(Verify|SignatureFloor)$' -benchmem ./capability/token
//
// BenchmarkSignaturePathRatio compares the signature checks considered for
// Verify (the standard library on the split input, jwx's jwsbb.Verify,
// jws.VerifyCompactFast and jws.Verify) and the whole Verify with the
// floor the same way. The claims decoder alone, without the signature:
//
//	go test -run '^$' -bench DecodeClaimsRatio -benchtime 1000x ./capability/token
//	go test -run '^$' -bench '^BenchmarkDecodeClaims$' -benchmem ./capability/token
//
// (1,000 grants: decoding takes about 33 µs for the default profile's
// 33 KB payload and 30 µs for the compact one's 2.3 KB; building the
// capability per role, Verify's path, costs 1.35x and 0.68x of that, against
// 2.5x and 2.7x through a []Grant and New.)
package token
