/* The funnel, per person: one pass over a person's events in time order.
 *
 * Inputs are the events of all persons, grouped by person (person p owns rows offsets[p]..offsets[p+1]-1)
 * and ascending by ts within a person; events with equal ts may come in any order, so nothing here
 * depends on their order: ties are broken by what the events are (their step mask, then bkey).
 *
 *   mask      bit k set: the event can fill step k (0-based), its name and --where both match;
 *   excl      bit x set: the event is exclusion x's event;
 *   other     1: the event counts as "another event" for strict funnels (not bookkeeping);
 *   bkey      the rank of the breakdown value of the event (ties between equal entries).
 *
 * None of these is an array of rows: each comes from the event's code (int16 or int32) through a small
 * table (one entry per event name, the last for code -1), the breakdown rank from the breakdown value's
 * code the same way. Only a step with --where needs a per-row mask (mask_rows). Writing 10M-row arrays
 * costs more than the whole pass on a machine where fresh memory is slow to fault in.
 *
 * Semantics are documented in docs/funnels.md; tests/analytics/funnel_reference.py is the
 * slow, obviously-correct version every rule is checked against.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 20
#define NONE INT64_MIN

enum { ORDERED = 0, STRICT = 1, UNORDERED = 2 };

typedef struct {
    const void *codes;
    int32_t width; /* bytes per code: 2 or 4 */
    int64_t n_table;
} coded_t;

typedef struct {
    const int64_t *ts;
    coded_t event;
    const uint32_t *mask_table, *excl_table;
    const uint8_t *other_table;
    const uint32_t *mask_rows; /* NULL unless a step has --where */
    coded_t breakdown;         /* codes NULL: no breakdown */
    const int32_t *rank_table;
    int32_t n_steps, order, entry_first, n_excl;
    const int32_t *excl_from, *excl_to;
    int64_t window, from, to;
} funnel_t;

/* The table slot of row r: its code, or the last slot (none) for -1 or a code beyond the table. */
static inline int64_t slot(const coded_t *c, int64_t r) {
    int64_t code = c->width == 2 ? ((const int16_t *)c->codes)[r] : ((const int32_t *)c->codes)[r];
    return (code < 0 || code >= c->n_table - 1) ? c->n_table - 1 : code;
}

static inline uint32_t mask_of(const funnel_t *f, int64_t r) {
    return f->mask_rows ? f->mask_rows[r] : f->mask_table[slot(&f->event, r)];
}

typedef struct {
    int32_t level;
    int64_t entry;
    int64_t times[MAX_STEPS];
} attempt_t;

static int in_range(const funnel_t *f, int64_t t) { return t >= f->from && t < f->to; }

static int32_t key_of(const funnel_t *f, int64_t r) {
    return f->breakdown.codes ? f->rank_table[slot(&f->breakdown, r)] : 0;
}

/* Is attempt `a` (entry row ra) preferred over the best so far (entry rb)? Higher level first, then the
 * earliest entry, then the entry that fills the fewest steps, then the smallest breakdown value. */
static int better(const funnel_t *f, const attempt_t *a, const attempt_t *best) {
    if (a->level != best->level) return a->level > best->level;
    if (best->entry < 0) return 1;
    int64_t ta = f->ts[a->entry], tb = f->ts[best->entry];
    if (ta != tb) return ta < tb;
    uint32_t ma = mask_of(f, a->entry), mb = mask_of(f, best->entry);
    if (ma != mb) return ma < mb;
    return key_of(f, a->entry) < key_of(f, best->entry);
}

static int64_t tie_start(const funnel_t *f, int64_t lo, int64_t r) {
    while (r > lo && f->ts[r - 1] == f->ts[r]) r--;
    return r;
}

static int is_used(const int64_t *used, int32_t n, int64_t r) {
    for (int32_t i = 0; i < n; i++)
        if (used[i] == r) return 1;
    return 0;
}

/* The next step's event: the earliest unused event at or after `prev`'s time that can fill step k, within
 * the deadline; among events at that time, the one with the smallest mask. -1 when there is none. */
static int64_t next_step(const funnel_t *f, int64_t lo, int64_t hi, int64_t prev, int32_t k,
                         const int64_t *used, int32_t n_used, int64_t deadline) {
    uint32_t bit = 1u << k;
    int64_t found = -1;
    for (int64_t r = tie_start(f, lo, prev); r < hi; r++) {
        int64_t t = f->ts[r];
        if (t > deadline) break;
        if (found >= 0 && t != f->ts[found]) break;
        uint32_t m = mask_of(f, r);
        if (!(m & bit) || is_used(used, n_used, r)) continue;
        if (found < 0 || m < mask_of(f, found)) found = r;
    }
    return found;
}

/* Strict: does an event strictly between t_prev and t_next interrupt (not a repeat of step k-1)? */
static int interrupted(const funnel_t *f, int64_t lo, int64_t hi, int64_t prev, int64_t t_next, int32_t k) {
    int64_t t_prev = f->ts[prev];
    uint32_t repeat = 1u << (k - 1);
    for (int64_t r = tie_start(f, lo, prev); r < hi; r++) {
        int64_t t = f->ts[r];
        if (t >= t_next) break;
        if (t == t_prev) continue;
        if (f->other_table[slot(&f->event, r)] && !(mask_of(f, r) & repeat)) return 1;
    }
    return 0;
}

static int excluded(const funnel_t *f, int64_t lo, int64_t hi, const attempt_t *a, int64_t deadline) {
    for (int32_t x = 0; x < f->n_excl; x++) {
        int32_t from = f->excl_from[x], to = f->excl_to[x];
        if (a->level <= from) continue;
        int64_t after = a->times[from];
        /* before step `to`, or, never reached, within the window (inclusive): t < deadline + 1 */
        int64_t before = a->level > to ? a->times[to] : deadline + 1;
        uint32_t bit = 1u << x;
        for (int64_t r = lo; r < hi; r++) {
            int64_t t = f->ts[r];
            if (t >= before) break;
            if (t > after && (f->excl_table[slot(&f->event, r)] & bit)) return 1;
        }
    }
    return 0;
}

static void ordered_attempt(const funnel_t *f, int64_t lo, int64_t hi, int64_t entry, attempt_t *a) {
    int64_t used[MAX_STEPS];
    int64_t deadline = f->ts[entry] + f->window;
    a->entry = entry;
    a->level = 1;
    a->times[0] = f->ts[entry];
    used[0] = entry;
    int64_t prev = entry;
    for (int32_t k = 1; k < f->n_steps; k++) {
        int64_t r = next_step(f, lo, hi, prev, k, used, k, deadline);
        if (r < 0) break;
        if (f->order == STRICT && interrupted(f, lo, hi, prev, f->ts[r], k)) break;
        used[k] = r;
        a->times[k] = f->ts[r];
        a->level = k + 1;
        prev = r;
    }
    for (int32_t k = a->level; k < f->n_steps; k++) a->times[k] = NONE;
}

/* Unordered: the most steps that distinct events in [anchor, anchor + window] can fill (a bipartite
 * matching of steps to events, by augmenting paths). */
typedef struct {
    const uint32_t *masks;
    int32_t n;
    int32_t owner[64 * MAX_STEPS]; /* step matched to each event slot, -1 none */
    int32_t seen[64 * MAX_STEPS];
    int32_t stamp;
} matching_t;

static int augment(matching_t *m, int32_t step) {
    for (int32_t e = 0; e < m->n; e++) {
        if (!(m->masks[e] & (1u << step)) || m->seen[e] == m->stamp) continue;
        m->seen[e] = m->stamp;
        if (m->owner[e] < 0 || augment(m, m->owner[e])) {
            m->owner[e] = step;
            return 1;
        }
    }
    return 0;
}

static int32_t unordered_level(const funnel_t *f, int64_t lo, int64_t hi, int64_t anchor) {
    /* Events with the same mask are interchangeable and no step needs more than n_steps of them, so keep
     * at most n_steps events of each mask: the matching stays small whatever the person did. */
    static __thread uint32_t masks[64 * MAX_STEPS];
    uint32_t distinct[64];
    int32_t kept[64];
    int32_t n_distinct = 0, n = 0;
    int64_t end = f->ts[anchor] + f->window;
    for (int64_t r = tie_start(f, lo, anchor); r < hi && f->ts[r] <= end; r++) {
        uint32_t m = mask_of(f, r);
        if (!m) continue;
        int32_t d = 0;
        while (d < n_distinct && distinct[d] != m) d++;
        if (d == n_distinct) {
            if (n_distinct == 64) continue; /* more than 64 different masks: ignore the rarest (never in practice) */
            distinct[n_distinct] = m;
            kept[n_distinct++] = 0;
        }
        if (kept[d] >= f->n_steps) continue;
        kept[d]++;
        masks[n++] = m;
    }
    matching_t mt;
    mt.masks = masks;
    mt.n = n;
    mt.stamp = 0;
    for (int32_t e = 0; e < n; e++) {
        mt.owner[e] = -1;
        mt.seen[e] = -1;
    }
    int32_t level = 0;
    for (int32_t s = 0; s < f->n_steps; s++) {
        mt.stamp = s;
        level += augment(&mt, s);
    }
    return level;
}

static void person(const funnel_t *f, int64_t lo, int64_t hi, attempt_t *best) {
    best->level = 0;
    best->entry = -1;
    uint32_t entry_bits = f->order == UNORDERED ? ~0u : 1u;
    int64_t first = NONE;
    if (f->entry_first) {
        for (int64_t r = lo; r < hi; r++)
            if ((mask_of(f, r) & entry_bits) && in_range(f, f->ts[r])) {
                first = f->ts[r];
                break;
            }
        if (first == NONE) return;
    }
    attempt_t a;
    for (int64_t r = lo; r < hi; r++) {
        if (!(mask_of(f, r) & entry_bits)) continue;
        int64_t t = f->ts[r];
        if (!in_range(f, t)) continue;
        if (f->entry_first && t != first) break;
        /* attempts come in time order: once one reached every step, only a tie in time can beat it */
        if (best->level == f->n_steps && t > f->ts[best->entry]) break;
        if (f->order == UNORDERED) {
            a.entry = r;
            a.level = unordered_level(f, lo, hi, r);
            for (int32_t k = 0; k < f->n_steps; k++) a.times[k] = NONE;
        } else {
            ordered_attempt(f, lo, hi, r, &a);
            if (f->n_excl && excluded(f, lo, hi, &a, t + f->window)) continue;
        }
        if (better(f, &a, best)) *best = a;
    }
}

/* The ordered funnel without exclusions looks at step events only, and most events are no step (3 in 4
 * in the benchmark's log): a first branch-free pass copies the person's step events aside, then the same
 * search as above runs over them. Same answers (ties: only step events can fill steps, and the order
 * among them is kept), about half the time; persons with more events than FAST_CAP take the general way. */
#define FAST_CAP 256

typedef struct {
    int64_t ts[FAST_CAP];
    int64_t row[FAST_CAP];
    uint32_t mask[FAST_CAP];
    int32_t n;
} steps_t;

static void collect(const funnel_t *f, int64_t lo, int64_t hi, steps_t *s) {
    int32_t n = 0;
    if (!f->mask_rows && f->event.width == 2) { /* the cache's codes: the loop without a branch per event */
        const int16_t *codes = f->event.codes;
        int64_t none = f->event.n_table - 1;
        for (int64_t r = lo; r < hi; r++) {
            int64_t c = codes[r];
            uint32_t m = f->mask_table[(c < 0 || c >= none) ? none : c];
            s->ts[n] = f->ts[r];
            s->row[n] = r;
            s->mask[n] = m;
            n += m != 0;
        }
    } else {
        for (int64_t r = lo; r < hi; r++) {
            uint32_t m = mask_of(f, r);
            s->ts[n] = f->ts[r];
            s->row[n] = r;
            s->mask[n] = m;
            n += m != 0;
        }
    }
    s->n = n;
}

static int32_t fast_next_step(const steps_t *s, int32_t prev, int32_t k, const int32_t *used, int32_t n_used,
                              int64_t deadline) {
    uint32_t bit = 1u << k;
    int32_t found = -1, i = prev;
    while (i > 0 && s->ts[i - 1] == s->ts[i]) i--;
    for (; i < s->n; i++) {
        int64_t t = s->ts[i];
        if (t > deadline) break;
        if (found >= 0 && t != s->ts[found]) break;
        uint32_t m = s->mask[i];
        if (!(m & bit)) continue;
        int taken = 0;
        for (int32_t u = 0; u < n_used; u++) taken |= used[u] == i;
        if (taken) continue;
        if (found < 0 || m < s->mask[found]) found = i;
    }
    return found;
}

static void fast_attempt(const funnel_t *f, const steps_t *s, int32_t entry, attempt_t *a) {
    int32_t used[MAX_STEPS];
    int64_t deadline = s->ts[entry] + f->window;
    a->entry = s->row[entry];
    a->level = 1;
    a->times[0] = s->ts[entry];
    used[0] = entry;
    int32_t prev = entry;
    for (int32_t k = 1; k < f->n_steps; k++) {
        int32_t i = fast_next_step(s, prev, k, used, k, deadline);
        if (i < 0) break;
        used[k] = i;
        a->times[k] = s->ts[i];
        a->level = k + 1;
        prev = i;
    }
    for (int32_t k = a->level; k < f->n_steps; k++) a->times[k] = NONE;
}

static void fast_person(const funnel_t *f, const steps_t *s, attempt_t *best) {
    best->level = 0;
    best->entry = -1;
    int64_t first = NONE;
    if (f->entry_first) {
        for (int32_t i = 0; i < s->n; i++)
            if ((s->mask[i] & 1u) && in_range(f, s->ts[i])) {
                first = s->ts[i];
                break;
            }
        if (first == NONE) return;
    }
    attempt_t a;
    for (int32_t i = 0; i < s->n; i++) {
        if (!(s->mask[i] & 1u)) continue;
        int64_t t = s->ts[i];
        if (!in_range(f, t)) continue;
        if (f->entry_first && t != first) break;
        if (best->level == f->n_steps && t > f->ts[best->entry]) break;
        fast_attempt(f, s, i, &a);
        if (better(f, &a, best)) *best = a;
    }
}

/* Persons p_begin..p_end-1 (all of them: 0..n_persons): callers split the persons over threads, each
 * call writing only its persons' slots. Outputs are per person, in slot p (times: step-major, column k at
 * k * n_persons). entry_out may be NULL; code_out (NULL without breakdown) gets the entry event's
 * breakdown code (-1: not counted), which saves the caller a gather over 10M-row columns. */
int sop_funnel(int64_t n_persons, const int64_t *offsets, const int64_t *ts, const void *event,
               int32_t event_width, int64_t n_events, const uint32_t *mask_table, const uint32_t *excl_table,
               const uint8_t *other_table, const uint32_t *mask_rows, const void *breakdown,
               int32_t breakdown_width, int64_t n_values, const int32_t *rank_table, int32_t n_steps,
               int32_t order, int32_t entry_first, int32_t n_excl, const int32_t *excl_from,
               const int32_t *excl_to, int64_t window, int64_t from, int64_t to, int64_t p_begin,
               int64_t p_end, int32_t *level_out, int64_t *entry_out, int64_t *times_out,
               int32_t *code_out) {
    if (n_steps < 1 || n_steps > MAX_STEPS || n_excl < 0 || n_excl > 32) return -1;
    if ((event_width != 2 && event_width != 4) || (breakdown && breakdown_width != 2 && breakdown_width != 4))
        return -2;
    if (p_begin < 0 || p_end > n_persons || p_begin > p_end || (code_out && !breakdown)) return -3;
    funnel_t f = {ts, {event, event_width, n_events}, mask_table, excl_table, other_table, mask_rows,
                  {breakdown, breakdown_width, n_values}, rank_table, n_steps, order, entry_first, n_excl,
                  excl_from, excl_to, window, from, to};
    attempt_t best;
    steps_t steps;
    int fast = order == ORDERED && n_excl == 0;
    for (int64_t p = p_begin; p < p_end; p++) {
        int64_t lo = offsets[p], hi = offsets[p + 1];
        if (fast && hi - lo <= FAST_CAP) {
            collect(&f, lo, hi, &steps);
            fast_person(&f, &steps, &best);
        } else {
            person(&f, lo, hi, &best);
        }
        level_out[p] = best.level;
        if (entry_out) entry_out[p] = best.entry;
        if (code_out) {
            int64_t r = best.entry;
            code_out[p] = r < 0 ? -1
                          : breakdown_width == 2 ? ((const int16_t *)breakdown)[r]
                                                 : ((const int32_t *)breakdown)[r];
        }
        /* step-major: times_out[k * n_persons + p], so each step's column is contiguous */
        for (int32_t k = 0; k < n_steps; k++) times_out[k * n_persons + p] = best.level ? best.times[k] : NONE;
    }
    return 0;
}

/* The aggregation's two passes over the persons (sopflow.analytics.funnel.aggregate).
 *
 * sop_funnel_counts: counts[l * (n_codes + 1) + c + 1] += 1 for each person of level l whose breakdown code
 * is c (column 0: code -1 or out of range; code NULL: every person in column 0). */
void sop_funnel_counts(int64_t n, const int32_t *level, const int32_t *code, int64_t n_codes, int32_t n_steps,
                       int64_t *counts) {
    int64_t width = n_codes + 1;
    for (int64_t p = 0; p < n; p++) {
        int64_t l = level[p];
        if (l < 0 || l > n_steps) continue;
        int64_t c = code ? code[p] : -1;
        counts[l * width + ((c < 0 || c >= n_codes) ? 0 : c + 1)]++;
    }
}

/* sop_funnel_gaps: for each person who reached step k + 1 (k >= 1), the µs from step k to step k + 1
 * (times[k]: step k's column, one entry per person), written at out[cursor[k * n_groups + g]++] where
 * g = group_of[code + 1] (group_of[0]: missing or out of range; code NULL: group 0). The caller sets the
 * cursors so that each step's gaps form one run, and within it one run per group. */
void sop_funnel_gaps(int64_t n, const int32_t *level, const int32_t *code, int64_t n_codes,
                     const int32_t *group_of, const int64_t *const *times, int32_t n_steps, int64_t n_groups,
                     int64_t *cursor, int64_t *out) {
    for (int64_t p = 0; p < n; p++) {
        int32_t l = level[p];
        if (l < 2) continue;
        if (l > n_steps) l = n_steps;
        int64_t c = code ? code[p] : -1;
        int64_t g = code ? group_of[(c < 0 || c >= n_codes) ? 0 : c + 1] : 0;
        int64_t before = times[0][p];
        for (int32_t k = 1; k < l; k++) {
            int64_t t = times[k][p];
            out[cursor[k * n_groups + g]++] = t - before;
            before = t;
        }
    }
}

/* sop_order_stats: out[j] = the value of rank ranks[j] (0-based, ascending ranks) among values[0..n-1],
 * which stay as they are. For the percentiles: a radix selection over the value range (a histogram of
 * 4096 buckets, then only the wanted buckets' values, again) reads the values three times where a
 * partition (np.partition) moves them several times. Returns -1 when out of memory or a rank is out of
 * range or not ascending. */
#define BUCKETS 4096
#define MAX_RANKS 64

static int select_ranks(const int64_t *values, int64_t m, int64_t lo, int64_t hi, int32_t k,
                        const int64_t *ranks, int64_t *out) {
    if (lo == hi) {
        for (int32_t j = 0; j < k; j++) out[j] = lo;
        return 0;
    }
    static __thread int64_t counts[BUCKETS];
    int shift = 0;
    while ((((uint64_t)hi - (uint64_t)lo) >> shift) >= BUCKETS) shift++;
    memset(counts, 0, sizeof counts);
    for (int64_t i = 0; i < m; i++) counts[((uint64_t)values[i] - (uint64_t)lo) >> shift]++;
    /* each rank's bucket and the values before that bucket; ranks ascend, so buckets do */
    int64_t before[MAX_RANKS], size[MAX_RANKS];
    int8_t slot_of[BUCKETS];
    int32_t n_slots = 0;
    memset(slot_of, -1, sizeof slot_of);
    int64_t b = 0, passed = 0;
    for (int32_t j = 0; j < k; j++) {
        while (passed + counts[b] <= ranks[j]) passed += counts[b++];
        if (slot_of[b] < 0) {
            slot_of[b] = (int8_t)n_slots;
            before[n_slots] = passed;
            size[n_slots++] = counts[b];
        }
    }
    int64_t *kept[MAX_RANKS], fill[MAX_RANKS], low[MAX_RANKS], high[MAX_RANKS];
    int status = 0;
    for (int32_t s = 0; s < n_slots; s++) {
        kept[s] = malloc((size_t)size[s] * sizeof(int64_t));
        fill[s] = 0;
        low[s] = INT64_MAX;
        high[s] = INT64_MIN;
        if (!kept[s]) status = -1;
    }
    if (status == 0) {
        for (int64_t i = 0; i < m; i++) {
            int64_t v = values[i];
            int s = slot_of[((uint64_t)v - (uint64_t)lo) >> shift];
            if (s < 0) continue;
            kept[s][fill[s]++] = v;
            if (v < low[s]) low[s] = v;
            if (v > high[s]) high[s] = v;
        }
        int32_t j = 0;
        for (int32_t s = 0; s < n_slots && status == 0; s++) {
            int64_t local[MAX_RANKS];
            int32_t first = j;
            for (; j < k && ranks[j] < before[s] + size[s]; j++) local[j - first] = ranks[j] - before[s];
            status = select_ranks(kept[s], fill[s], low[s], high[s], j - first, local, out + first);
        }
    }
    for (int32_t s = 0; s < n_slots; s++) free(kept[s]);
    return status;
}

int sop_order_stats(int64_t n, const int64_t *values, int32_t n_ranks, const int64_t *ranks, int64_t *out) {
    if (n < 1 || n_ranks < 1 || n_ranks > MAX_RANKS) return -1;
    for (int32_t j = 0; j < n_ranks; j++)
        if (ranks[j] < 0 || ranks[j] >= n || (j && ranks[j] < ranks[j - 1])) return -1;
    int64_t lo = values[0], hi = values[0];
    for (int64_t i = 1; i < n; i++) {
        int64_t v = values[i];
        if (v < lo) lo = v;
        if (v > hi) hi = v;
    }
    return select_ranks(values, n, lo, hi, n_ranks, ranks, out);
}

/* out[i] = table[codes[i]] for int16 or int32 codes; code -1 (none) reads table[n_table - 1], the entry
 * kept for it. NumPy's fancy indexing first widens the codes to 64 bits (an 80 MB temporary at 10M rows);
 * this reads them as they are. Codes out of range read the none entry too. */
void sop_lookup16(int64_t n, const int16_t *codes, int64_t n_table, const uint32_t *table, uint32_t *out) {
    for (int64_t i = 0; i < n; i++) {
        int64_t c = codes[i];
        out[i] = table[(c < 0 || c >= n_table - 1) ? n_table - 1 : c];
    }
}

void sop_lookup32(int64_t n, const int32_t *codes, int64_t n_table, const uint32_t *table, uint32_t *out) {
    for (int64_t i = 0; i < n; i++) {
        int64_t c = codes[i];
        out[i] = table[(c < 0 || c >= n_table - 1) ? n_table - 1 : c];
    }
}
