/* MD5 of each row's content (its text fields joined by a separator), as lowercase hex: the event id
 * derived for rows that come without one. Written from RFC 1321; the sine table K comes from the caller.
 *
 * Why in C: joining eleven columns into one string column and hashing it costs more than the rest of a
 * CSV row's checks together; here each row is joined into one scratch buffer and hashed in place.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define F(x, y, z) (((x) & (y)) | (~(x) & (z)))
#define G(x, y, z) (((z) & (x)) | (~(z) & (y)))
#define H(x, y, z) ((x) ^ (y) ^ (z))
#define I(x, y, z) ((y) ^ ((x) | ~(z)))
#define STEP(f, a, b, c, d, m, k, s)            \
    do {                                        \
        uint32_t t_ = (a) + f(b, c, d) + (m) + (k); \
        (a) = (b) + ((t_ << (s)) | (t_ >> (32 - (s)))); \
    } while (0)

/* The 64 steps written out (the register names rotate each step), so that every shift and message index
 * is a constant: about twice as fast as the loop over the RFC's tables. */
static void md5_block(uint32_t h[4], const uint8_t *block, const uint32_t *K) {
    uint32_t M[16];
    for (int i = 0; i < 16; i++)
        M[i] = (uint32_t)block[4 * i] | (uint32_t)block[4 * i + 1] << 8 | (uint32_t)block[4 * i + 2] << 16 |
               (uint32_t)block[4 * i + 3] << 24;
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    STEP(F, a, b, c, d, M[0], K[0], 7);
    STEP(F, d, a, b, c, M[1], K[1], 12);
    STEP(F, c, d, a, b, M[2], K[2], 17);
    STEP(F, b, c, d, a, M[3], K[3], 22);
    STEP(F, a, b, c, d, M[4], K[4], 7);
    STEP(F, d, a, b, c, M[5], K[5], 12);
    STEP(F, c, d, a, b, M[6], K[6], 17);
    STEP(F, b, c, d, a, M[7], K[7], 22);
    STEP(F, a, b, c, d, M[8], K[8], 7);
    STEP(F, d, a, b, c, M[9], K[9], 12);
    STEP(F, c, d, a, b, M[10], K[10], 17);
    STEP(F, b, c, d, a, M[11], K[11], 22);
    STEP(F, a, b, c, d, M[12], K[12], 7);
    STEP(F, d, a, b, c, M[13], K[13], 12);
    STEP(F, c, d, a, b, M[14], K[14], 17);
    STEP(F, b, c, d, a, M[15], K[15], 22);
    STEP(G, a, b, c, d, M[1], K[16], 5);
    STEP(G, d, a, b, c, M[6], K[17], 9);
    STEP(G, c, d, a, b, M[11], K[18], 14);
    STEP(G, b, c, d, a, M[0], K[19], 20);
    STEP(G, a, b, c, d, M[5], K[20], 5);
    STEP(G, d, a, b, c, M[10], K[21], 9);
    STEP(G, c, d, a, b, M[15], K[22], 14);
    STEP(G, b, c, d, a, M[4], K[23], 20);
    STEP(G, a, b, c, d, M[9], K[24], 5);
    STEP(G, d, a, b, c, M[14], K[25], 9);
    STEP(G, c, d, a, b, M[3], K[26], 14);
    STEP(G, b, c, d, a, M[8], K[27], 20);
    STEP(G, a, b, c, d, M[13], K[28], 5);
    STEP(G, d, a, b, c, M[2], K[29], 9);
    STEP(G, c, d, a, b, M[7], K[30], 14);
    STEP(G, b, c, d, a, M[12], K[31], 20);
    STEP(H, a, b, c, d, M[5], K[32], 4);
    STEP(H, d, a, b, c, M[8], K[33], 11);
    STEP(H, c, d, a, b, M[11], K[34], 16);
    STEP(H, b, c, d, a, M[14], K[35], 23);
    STEP(H, a, b, c, d, M[1], K[36], 4);
    STEP(H, d, a, b, c, M[4], K[37], 11);
    STEP(H, c, d, a, b, M[7], K[38], 16);
    STEP(H, b, c, d, a, M[10], K[39], 23);
    STEP(H, a, b, c, d, M[13], K[40], 4);
    STEP(H, d, a, b, c, M[0], K[41], 11);
    STEP(H, c, d, a, b, M[3], K[42], 16);
    STEP(H, b, c, d, a, M[6], K[43], 23);
    STEP(H, a, b, c, d, M[9], K[44], 4);
    STEP(H, d, a, b, c, M[12], K[45], 11);
    STEP(H, c, d, a, b, M[15], K[46], 16);
    STEP(H, b, c, d, a, M[2], K[47], 23);
    STEP(I, a, b, c, d, M[0], K[48], 6);
    STEP(I, d, a, b, c, M[7], K[49], 10);
    STEP(I, c, d, a, b, M[14], K[50], 15);
    STEP(I, b, c, d, a, M[5], K[51], 21);
    STEP(I, a, b, c, d, M[12], K[52], 6);
    STEP(I, d, a, b, c, M[3], K[53], 10);
    STEP(I, c, d, a, b, M[10], K[54], 15);
    STEP(I, b, c, d, a, M[1], K[55], 21);
    STEP(I, a, b, c, d, M[8], K[56], 6);
    STEP(I, d, a, b, c, M[15], K[57], 10);
    STEP(I, c, d, a, b, M[6], K[58], 15);
    STEP(I, b, c, d, a, M[13], K[59], 21);
    STEP(I, a, b, c, d, M[4], K[60], 6);
    STEP(I, d, a, b, c, M[11], K[61], 10);
    STEP(I, c, d, a, b, M[2], K[62], 15);
    STEP(I, b, c, d, a, M[9], K[63], 21);
    h[0] += a, h[1] += b, h[2] += c, h[3] += d;
}

static void md5_hex(const uint8_t *message, int64_t length, const uint32_t *K, char *hex) {
    static const char DIGITS[] = "0123456789abcdef";
    uint32_t h[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
    int64_t blocks = length / 64;
    for (int64_t i = 0; i < blocks; i++) md5_block(h, message + 64 * i, K);
    uint8_t tail[128];
    int64_t rest = length - 64 * blocks;
    memset(tail, 0, sizeof tail);
    memcpy(tail, message + 64 * blocks, (size_t)rest);
    tail[rest] = 0x80;
    int size = rest <= 55 ? 64 : 128; /* room for the 0x80 byte and the 8-byte bit length */
    uint64_t bits = (uint64_t)length * 8;
    for (int i = 0; i < 8; i++) tail[size - 8 + i] = (uint8_t)(bits >> (8 * i));
    md5_block(h, tail, K);
    if (size == 128) md5_block(h, tail + 64, K);
    for (int i = 0; i < 16; i++) {
        uint8_t byte = (uint8_t)(h[i / 4] >> (8 * (i % 4)));
        hex[2 * i] = DIGITS[byte >> 4];
        hex[2 * i + 1] = DIGITS[byte & 15];
    }
}

/* Rows 0..n-1 of k string columns (Arrow: int32 offsets already at the array's offset, data, validity bitmap
 * or NULL with its bit offset); a null is empty. Writes 32 hex characters per row. Returns 0, or -1 when out
 * of memory. */
int sop_content_md5(int64_t n, int64_t k, const int32_t *const *offsets, const uint8_t *const *data,
                    const uint8_t *const *validity, const int64_t *bit_offsets, uint8_t separator,
                    const uint32_t *K, char *hex) {
    size_t capacity = 4096;
    uint8_t *buffer = malloc(capacity);
    if (!buffer) return -1;
    for (int64_t r = 0; r < n; r++) {
        size_t need = (size_t)k;
        for (int64_t p = 0; p < k; p++) need += (size_t)(offsets[p][r + 1] - offsets[p][r]);
        if (need > capacity) {
            while (capacity < need) capacity *= 2;
            uint8_t *larger = realloc(buffer, capacity);
            if (!larger) {
                free(buffer);
                return -1;
            }
            buffer = larger;
        }
        size_t length = 0;
        for (int64_t p = 0; p < k; p++) {
            if (p) buffer[length++] = separator;
            int64_t bit = bit_offsets[p] + r;
            if (validity[p] && !((validity[p][bit >> 3] >> (bit & 7)) & 1)) continue;
            size_t start = (size_t)offsets[p][r], count = (size_t)(offsets[p][r + 1] - offsets[p][r]);
            memcpy(buffer + length, data[p] + start, count);
            length += count;
        }
        md5_hex(buffer, (int64_t)length, K, hex + 32 * r);
    }
    free(buffer);
    return 0;
}
