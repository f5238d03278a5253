/* Raw id -> code, keyed by two 64-bit halves of the id's MD5 (h1 finds the slot, h2 confirms).
 *
 * Why: each import chunk looks up hundreds of thousands of ids against millions. Arrow's set lookup
 * rebuilds a hash table of every known id per call; here each id costs one or two cache misses. Two ids
 * agreeing on h1 but not on h2 are reported as a clash, and the caller settles those by comparing text.
 */
#include <stdint.h>
#include <stdlib.h>

typedef struct {
    uint64_t h1;
    uint64_t h2;
    int32_t code; /* -1: empty slot */
} entry;

typedef struct {
    entry *slots;
    int64_t mask;
    int64_t size;
} idmap;

static uint64_t spread(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

static entry *alloc_slots(int64_t capacity) {
    entry *slots = malloc((size_t)capacity * sizeof(entry));
    if (slots)
        for (int64_t i = 0; i < capacity; i++) slots[i].code = -1;
    return slots;
}

static int64_t find(const idmap *map, uint64_t h1) {
    int64_t i = (int64_t)(spread(h1) & (uint64_t)map->mask);
    while (map->slots[i].code >= 0 && map->slots[i].h1 != h1) i = (i + 1) & map->mask;
    return i;
}

static int grow(idmap *map) {
    int64_t old_capacity = map->mask + 1;
    entry *fresh = alloc_slots(old_capacity * 2);
    if (!fresh) return -1;
    entry *old = map->slots;
    map->slots = fresh;
    map->mask = old_capacity * 2 - 1;
    for (int64_t i = 0; i < old_capacity; i++)
        if (old[i].code >= 0) map->slots[find(map, old[i].h1)] = old[i];
    free(old);
    return 0;
}

void *sop_idmap_new(int64_t expected) {
    idmap *map = calloc(1, sizeof(idmap));
    if (!map) return NULL;
    int64_t capacity = 1024;
    while (capacity < expected * 2) capacity *= 2;
    map->slots = alloc_slots(capacity);
    if (!map->slots) {
        free(map);
        return NULL;
    }
    map->mask = capacity - 1;
    return map;
}

void sop_idmap_free(void *handle) {
    idmap *map = handle;
    if (map) {
        free(map->slots);
        free(map);
    }
}

/* codes[r]: the id's code; with insert, an id not there gets next_code (then next_code + 1, ...) and
 * is_new[r] = 1 on its first row; without insert it stays -1. clash[r] = 1 (code -1) when h1 is known
 * under another h2. Returns the next free code, or -1 when out of memory. */
int64_t sop_idmap_encode(void *handle, int64_t n, const uint64_t *h1, const uint64_t *h2, int32_t *codes,
                         uint8_t *is_new, uint8_t *clash, int64_t next_code, int insert) {
    idmap *map = handle;
    for (int64_t r = 0; r < n; r++) {
        is_new[r] = clash[r] = 0;
        codes[r] = -1;
        int64_t i = find(map, h1[r]);
        entry *slot = &map->slots[i];
        if (slot->code >= 0) {
            if (slot->h2 == h2[r])
                codes[r] = slot->code;
            else
                clash[r] = 1;
            continue;
        }
        if (!insert) continue;
        if ((map->size + 1) * 2 > map->mask + 1) {
            if (grow(map) != 0) return -1;
            slot = &map->slots[find(map, h1[r])];
        }
        slot->h1 = h1[r];
        slot->h2 = h2[r];
        slot->code = (int32_t)next_code;
        map->size++;
        codes[r] = (int32_t)next_code++;
        is_new[r] = 1;
    }
    return next_code;
}

/* Enter ids 0..n-1 with their own row numbers as codes (a map rebuilt from the stored raw ids);
 * clash[r] = 1 where h1 is already there (that id is then found by text). Returns 0, or -1 when out of memory. */
int64_t sop_idmap_put(void *handle, int64_t n, const uint64_t *h1, const uint64_t *h2, uint8_t *clash) {
    idmap *map = handle;
    for (int64_t r = 0; r < n; r++) {
        clash[r] = 0;
        if ((map->size + 1) * 2 > map->mask + 1 && grow(map) != 0) return -1;
        entry *slot = &map->slots[find(map, h1[r])];
        if (slot->code >= 0) {
            clash[r] = 1;
            continue;
        }
        slot->h1 = h1[r];
        slot->h2 = h2[r];
        slot->code = (int32_t)r;
        map->size++;
    }
    return 0;
}

/* Digests of Arrow strings (int32 offsets, data): MurmurHash3's x64 128-bit mix, written from its
 * published description. Never stored, so only its spread matters: an id's two halves feed the map. */
static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t fmix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ULL;
    k ^= k >> 33;
    return k;
}

static uint64_t load_le(const uint8_t *p, int count) {
    uint64_t v = 0;
    for (int i = count - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

void sop_id_digests(int64_t n, const int32_t *offsets, const uint8_t *data, uint64_t *out1, uint64_t *out2) {
    const uint64_t c1 = 0x87c37b91114253d5ULL, c2 = 0x4cf5ad432745937fULL;
    for (int64_t r = 0; r < n; r++) {
        const uint8_t *p = data + offsets[r];
        int64_t len = offsets[r + 1] - offsets[r];
        uint64_t h1 = 0x5f3759df, h2 = 0x5f3759df;
        int64_t blocks = len / 16;
        for (int64_t b = 0; b < blocks; b++) {
            uint64_t k1 = load_le(p + 16 * b, 8), k2 = load_le(p + 16 * b + 8, 8);
            k1 *= c1, k1 = rotl(k1, 31), k1 *= c2, h1 ^= k1;
            h1 = rotl(h1, 27), h1 += h2, h1 = h1 * 5 + 0x52dce729;
            k2 *= c2, k2 = rotl(k2, 33), k2 *= c1, h2 ^= k2;
            h2 = rotl(h2, 31), h2 += h1, h2 = h2 * 5 + 0x38495ab5;
        }
        const uint8_t *tail = p + 16 * blocks;
        int rest = (int)(len - 16 * blocks);
        if (rest > 8) {
            uint64_t k2 = load_le(tail + 8, rest - 8);
            k2 *= c2, k2 = rotl(k2, 33), k2 *= c1, h2 ^= k2;
        }
        if (rest > 0) {
            uint64_t k1 = load_le(tail, rest > 8 ? 8 : rest);
            k1 *= c1, k1 = rotl(k1, 31), k1 *= c2, h1 ^= k1;
        }
        h1 ^= (uint64_t)len, h2 ^= (uint64_t)len;
        h1 += h2, h2 += h1;
        h1 = fmix(h1), h2 = fmix(h2);
        h1 += h2, h2 += h1;
        out1[r] = h1;
        out2[r] = h2;
    }
}
