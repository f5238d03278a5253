/* A growing set of 64-bit dedupe keys: open addressing with linear probing.
 *
 * Why not sorted runs and binary search: a batch of a million keys probed against tens of millions costs
 * ~20 cache misses per key that way, and one or two here. The set lives for one import (C memory, freed
 * by sop_keyset_free); key 0 is kept aside since an empty slot is 0.
 */
#include <stdint.h>
#include <stdlib.h>

typedef struct {
    uint64_t *slots;
    int64_t mask; /* capacity - 1; the capacity is a power of two */
    int64_t size;
    int has_zero;
} keyset;

static uint64_t spread(uint64_t k) { /* keys are md5 bits, but a client's hex ids may not be random */
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

static int64_t find_slot(const keyset *set, uint64_t key) {
    int64_t i = (int64_t)(spread(key) & (uint64_t)set->mask);
    while (set->slots[i] != 0 && set->slots[i] != key) i = (i + 1) & set->mask;
    return i;
}

static int grow(keyset *set) {
    int64_t capacity = (set->mask + 1) * 2;
    uint64_t *old = set->slots;
    int64_t old_capacity = set->mask + 1;
    set->slots = calloc((size_t)capacity, sizeof(uint64_t));
    if (!set->slots) {
        set->slots = old;
        return -1;
    }
    set->mask = capacity - 1;
    for (int64_t i = 0; i < old_capacity; i++)
        if (old[i] != 0) set->slots[find_slot(set, old[i])] = old[i];
    free(old);
    return 0;
}

void *sop_keyset_new(int64_t expected) {
    keyset *set = calloc(1, sizeof(keyset));
    if (!set) return NULL;
    int64_t capacity = 1024;
    while (capacity < expected * 2) capacity *= 2;
    set->slots = calloc((size_t)capacity, sizeof(uint64_t));
    if (!set->slots) {
        free(set);
        return NULL;
    }
    set->mask = capacity - 1;
    return set;
}

void sop_keyset_free(void *handle) {
    keyset *set = handle;
    if (set) {
        free(set->slots);
        free(set);
    }
}

int64_t sop_keyset_size(const void *handle) {
    const keyset *set = handle;
    return set->size + set->has_zero;
}

/* For each key not marked in skip (may be NULL): fresh[i] = 1 when it was not in the set, and it is added;
 * later repeats in the same call are not fresh. Returns the number of fresh keys, or -1 when out of memory
 * (the set then holds the keys of rows before the failure only; the caller discards it). */
int64_t sop_keyset_add(void *handle, int64_t n, const uint64_t *keys, const uint8_t *skip, uint8_t *fresh) {
    keyset *set = handle;
    int64_t added = 0;
    for (int64_t r = 0; r < n; r++) {
        fresh[r] = 0;
        if (skip && skip[r]) continue;
        uint64_t key = keys[r];
        if (key == 0) {
            if (!set->has_zero) set->has_zero = fresh[r] = 1, added++;
            continue;
        }
        if ((set->size + 1) * 2 > set->mask + 1 && grow(set) != 0) return -1;
        int64_t i = find_slot(set, key);
        if (set->slots[i] == 0) {
            set->slots[i] = key;
            set->size++;
            fresh[r] = 1;
            added++;
        }
    }
    return added;
}
