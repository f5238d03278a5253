/* MD5 of each row's content (its text fields joined by a separator), as lowercase hex: the event id
 * derived for rows that come without one. Written from RFC 1321; the sine table K comes from the caller.
 *
 * Why in C: joining eleven columns into one string column and hashing it costs more than the rest of a
 * CSV row's checks together; here each row is joined into one scratch buffer and hashed in place.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const int SHIFT[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
                              5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
                              4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                              6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};

static void md5_block(uint32_t h[4], const uint8_t *block, const uint32_t *K) {
    uint32_t M[16];
    for (int i = 0; i < 16; i++)
        M[i] = (uint32_t)block[4 * i] | (uint32_t)block[4 * i + 1] << 8 | (uint32_t)block[4 * i + 2] << 16 |
               (uint32_t)block[4 * i + 3] << 24;
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) & 15;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) & 15;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) & 15;
        }
        f = f + a + K[i] + M[g];
        a = d;
        d = c;
        c = b;
        b = b + ((f << SHIFT[i]) | (f >> (32 - SHIFT[i])));
    }
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
