//! Who is asking: password hashing for operators, and the signed, expiring bearer tokens that
//! operators, admins and clients present.
//!
//! Passwords are stored as Argon2id PHC strings with OWASP's minimum parameters
//! (m = 19 MiB, t = 2, p = 1); the salt comes from the caller, who owns randomness.
//! Tokens are `v1.<claims>.<mac>`: base64url JSON claims and an HMAC-SHA256 over them with the
//! deployment's secret. They are checked without any lookup, so the edge can refuse a bad one
//! before it reaches a tenant's coordinator, and route a good one to its own tenant only.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Argon2id with OWASP's recommended minimum: 19 MiB of memory, 2 passes, 1 lane.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes a password into a PHC string; `salt` must be at least 16 random bytes.
pub fn hash_password(password: &str, salt: &[u8]) -> Result<String, ApiError> {
    let salt = SaltString::encode_b64(salt).map_err(|e| ApiError::Internal(e.to_string()))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::Internal(e.to_string()))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Who a token speaks for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TokenRole {
    Admin,
    Operator,
    Client,
}

/// What a token carries. `sub` is an operator id, or a client id for client tokens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// Tenant slug: a token opens its own tenant only.
    pub tenant: String,
    pub sub: String,
    pub role: TokenRole,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// For client tokens: the session of the visit the token was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
}

/// How long a token is good for.
pub const OPERATOR_TOKEN_SECONDS: i64 = 12 * 3600;
pub const CLIENT_TOKEN_SECONDS: i64 = 24 * 3600;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

pub fn sign_token(claims: &Claims, secret: &[u8]) -> String {
    let body = B64.encode(serde_json::to_vec(claims).expect("claims serialize"));
    let sig = B64.encode(mac(secret, format!("v1.{body}").as_bytes()));
    format!("v1.{body}.{sig}")
}

/// Checks signature and expiry; `now` is Unix seconds.
pub fn verify_token(token: &str, secret: &[u8], now: i64) -> Result<Claims, ApiError> {
    let bad = || ApiError::Unauthorized("the token is not valid".into());
    let mut parts = token.split('.');
    let (Some("v1"), Some(body), Some(sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let given = B64.decode(sig).map_err(|_| bad())?;
    let expected = mac(secret, format!("v1.{body}").as_bytes());
    if given.len() != expected.len() || !bool::from(given.ct_eq(&expected)) {
        return Err(bad());
    }
    let claims: Claims =
        serde_json::from_slice(&B64.decode(body).map_err(|_| bad())?).map_err(|_| bad())?;
    if claims.exp <= now {
        return Err(ApiError::Unauthorized(
            "the token has expired; sign in again".into(),
        ));
    }
    Ok(claims)
}

/// Compares a presented secret with the expected one in constant time.
pub fn secret_matches(given: &str, expected: &str) -> bool {
    !expected.is_empty()
        && given.len() == expected.len()
        && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?.trim();
    let (scheme, token) = h.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Claims {
        Claims {
            tenant: "acme".into(),
            sub: "op_1".into(),
            role: TokenRole::Operator,
            exp,
            session: None,
        }
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse", &[7u8; 16]).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn tokens_round_trip_and_expire() {
        let t = sign_token(&claims(1000), b"secret");
        assert_eq!(verify_token(&t, b"secret", 999).unwrap(), claims(1000));
        let err = verify_token(&t, b"secret", 1000).unwrap_err();
        assert!(err.to_string().contains("expired"));
    }

    #[test]
    fn forged_tokens_are_refused() {
        let t = sign_token(&claims(1000), b"secret");
        assert!(verify_token(&t, b"other secret", 0).is_err());
        let mut flipped = t.clone();
        let last = flipped.pop().unwrap();
        flipped.push(if last == 'A' { 'B' } else { 'A' });
        assert!(verify_token(&flipped, b"secret", 0).is_err());
        // Changing the claims (another tenant) breaks the signature.
        let forged_claims = Claims {
            tenant: "other".into(),
            ..claims(1000)
        };
        let forged_body = B64.encode(serde_json::to_vec(&forged_claims).unwrap());
        let sig = t.rsplit('.').next().unwrap();
        assert!(verify_token(&format!("v1.{forged_body}.{sig}"), b"secret", 0).is_err());
        assert!(verify_token("garbage", b"secret", 0).is_err());
        assert!(verify_token("v1.a.b.c", b"secret", 0).is_err());
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn platform_secret_comparison() {
        assert!(secret_matches("tok", "tok"));
        assert!(!secret_matches("tok", "tok2"));
        assert!(!secret_matches("", ""));
    }
}
