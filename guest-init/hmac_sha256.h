// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104): guest-init signs every
// message to the host with these, so the workload cannot forge results.
#ifndef GUEST_INIT_HMAC_SHA256_H
#define GUEST_INIT_HMAC_SHA256_H
#include <stddef.h>
#include <stdint.h>

#define SHA256_BLOCK 64
#define SHA256_DIGEST 32

struct sha256 {
  uint32_t state[8];
  uint64_t length;            // bytes hashed so far
  uint8_t block[SHA256_BLOCK];
  size_t used;                // bytes waiting in block
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[SHA256_DIGEST]);

// Keyed state prepared once per run: the inner and outer hashes after their
// padded key blocks, so each message costs no key processing.
struct hmac_sha256_key {
  struct sha256 inner, outer;
};

void hmac_sha256_key_init(struct hmac_sha256_key *k, const uint8_t *key, size_t key_len);
// Starts a message: copy of the keyed inner state.
void hmac_sha256_begin(const struct hmac_sha256_key *k, struct sha256 *msg);
void hmac_sha256_end(const struct hmac_sha256_key *k, struct sha256 *msg, uint8_t out[SHA256_DIGEST]);

// Overwrites memory in a way the compiler may not drop.
void wipe(void *p, size_t n);

#endif
