// Package capability turns a signed JWT into an immutable, typed capability,
// and a capability back into a signed JWT.
//
// A [Capability] says which groups its bearer belongs to and in which role,
// and whether it carries the admin override. keyhole never decides access in
// Go: sqlguard hands the capability's groups for a role (see
// [Capability.Groups]) and its admin flag to the SQL statement, and
// PostgreSQL decides. This package is therefore the trust boundary of the
// whole library: everything after it believes what it says.
//
// # Trust and failure
//
// The package trusts its configuration (the [Roles] hierarchy, the
// [GroupKind], the keys, issuer and audience given to a [Verifier], a
// [ClaimMapping]) and nothing in a token until its signature has verified
// with a pinned key and algorithm. After that, it still trusts only what it
// can type exactly: claims are decoded by a strict decoder built for these
// shapes (not by encoding/json into maps), and anything it does not
// understand in a grant rejects the token. It fails closed: a token that
// cannot be read completely and unambiguously is rejected with a
// *[TokenError] that wraps [ErrInvalidToken] and one reason sentinel; it is
// never partially accepted, and an ill-typed value is never coerced. Error
// messages name the claim and the problem, never a claim value or the token.
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
//   - "sub", "iss", "jti": strings. null, numbers and strings containing NUL
//     are rejected.
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
// # Default profile
//
// The design notes' shape, one object per grant:
//
//	{"sub":"alice","iss":"https://auth.example.com","aud":"forum","jti":"…",
//	 "iat":1795000000,"exp":1795000900,"admin":true,
//	 "permissions":[{"group":7,"role":"member"},{"group":7,"role":"moderator"}]}
//
// Each permission has exactly the members "group" and "role"; a missing or
// unknown member rejects the token (an unknown member might be a
// restriction this decoder would otherwise silently drop). The role must be
// declared in the verifier's hierarchy ("none" is not a role a token can
// carry). The group is a JSON integer for [KindInt64] (1.0, 1e3, "1" and -0
// are rejected) and a JSON string for [KindUUID] (8-4-4-4-12 hex) and
// [KindText] (as [ParseGroup] accepts). The Issuer writes permissions sorted
// by group, then role, without duplicates; the decoder accepts any order
// and New merges duplicates. A grant costs about 33 bytes, so an 8 KiB token
// holds about 180 of them: users in many groups need the compact profile.
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
// For [KindUUID] and [KindText], <ids> is an array of strings: UUIDs in
// lowercase canonical form, text ids as in the default profile, strictly
// ascending in byte order of the decoded strings.
//
// For [KindInt64], <ids> is one string: the unpadded base64url encoding
// (RFC 4648 §5, alphabet A–Z a–z 0–9 - _, no '=', no escapes, no
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
// verifier's MaxGrants before anything is allocated for the ids.
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
// # Claim mapping
//
// A [ClaimMapping] given to the Verifier reads other identity providers'
// shapes instead of the two profiles above:
//
//   - GroupsClaim, e.g. "groups" (Okta, Azure AD, Keycloak's group mapper):
//     a top-level array of group ids, each granted DefaultRole. Ids are
//     strings in ParseGroup's form; for KindInt64 also JSON integers, and a
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
// # Performance
//
// TODO(lead): the benchmark table goes here, with the machine, the Go
// version and the commands that produced it: BenchmarkVerify/<alg>/grants=<n>
// against BenchmarkSignatureFloor/<alg>/grants=<n> (robustly:
// KEYHOLE_VERIFY_RATIO=1 go test -run TestVerifyOverFloor -v), and the claims
// decoder alone, BenchmarkDecodeClaims/{default,compact}/grants=<n> (robustly:
// KEYHOLE_DECODE_COST=1 go test -run TestDecodeClaimsCost -v).
package capability
