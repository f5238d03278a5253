/* Referral's per-person pass over the analytics cache (see sopflow/analytics/referral/cached.py).

   Persons [p_begin, p_end) own rows offsets[p]..offsets[p+1], in time order. For each, over the rows in
   [from, to): the first time of an event that is not bookkeeping; the first non-blank inviter code of such
   an event (at a tie in time, the code whose text sorts first: UTF-8 bytes compare as code points do, as
   Python compares the texts); whether a row reached the inviters stage; the revenue summed in row order
   (the same float additions, in the same order, as the per-row NumPy definition) and whether one was > 0. */
#include <stdint.h>
#include <string.h>

static int32_t event_at(const void *event, int32_t width, int64_t r) {
    return width == 2 ? ((const int16_t *)event)[r] : ((const int32_t *)event)[r];
}

/* text of code a < text of code b (Arrow string offsets and data) */
static int text_less(const int32_t *text_offsets, const uint8_t *text_data, int32_t a, int32_t b) {
    int32_t la = text_offsets[a + 1] - text_offsets[a], lb = text_offsets[b + 1] - text_offsets[b];
    int32_t common = la < lb ? la : lb;
    int c = memcmp(text_data + text_offsets[a], text_data + text_offsets[b], (size_t)common);
    return c < 0 || (c == 0 && la < lb);
}

void sop_referral(int64_t p_begin, int64_t p_end, const int64_t *offsets, const int64_t *ts, const void *event,
                  int32_t event_width, const uint8_t *bookkeeping, const int32_t *inviter, const uint8_t *blank,
                  const int32_t *text_offsets, const uint8_t *text_data, const int32_t *revenue,
                  const double *amount, const uint8_t *reached, int64_t from, int64_t to, int64_t *first_out,
                  int32_t *inviter_out, uint8_t *reached_out, uint8_t *paid_out, double *revenue_out) {
    for (int64_t p = p_begin; p < p_end; p++) {
        int64_t first = -1, inviter_ts = 0;
        int32_t chosen = -1;
        uint8_t any_reached = 0, paid = 0;
        double sum = 0.0;
        for (int64_t r = offsets[p]; r < offsets[p + 1]; r++) {
            int64_t t = ts[r];
            if (t < from || t >= to) continue;
            int real = !bookkeeping[event_at(event, event_width, r)];
            if (real && first < 0) first = t;
            int32_t code = inviter[r];
            if (real && code >= 0 && !blank[code]) {
                if (chosen < 0) {
                    chosen = code;
                    inviter_ts = t;
                } else if (t == inviter_ts && code != chosen && text_less(text_offsets, text_data, code, chosen)) {
                    chosen = code;
                }
            }
            if (reached && reached[r]) any_reached = 1;
            int32_t money = revenue[r];
            double value = money >= 0 ? amount[money] : 0.0;
            sum += value;
            if (value > 0) paid = 1;
        }
        first_out[p] = first;
        inviter_out[p] = chosen;
        reached_out[p] = any_reached;
        paid_out[p] = paid;
        revenue_out[p] = sum;
    }
}
