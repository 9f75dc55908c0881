/* Decode goldens for QuantLens's ggml block decoders, made by ggml itself.
 *
 * Built by samples/ggml/make_decode_goldens.py against a ggml checkout compiled outside the
 * repository (its public ggml.h API, and the exported dequantize_row_q8_K). For each block type it writes, to the
 * folder named on the command line, <type>.blocks (the block bytes) and <type>.values (what
 * ggml's to_float gives for them, float32): blocks quantized by ggml from float rows of
 * several kinds (Gaussian, heavy-tailed, zeros, ±0, constants, huge and tiny values), then
 * blocks of random bytes, which reach scale and mask patterns no quantizer writes.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml.h"

/* Q8_K's decoder is exported by ggml-base but not listed in its type traits. */
void dequantize_row_q8_K(const void *x, float *y, int64_t k);

static uint64_t state = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) { /* splitmix64 */
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static float uniform(void) { return (float)(next() >> 40) / 16777216.0f; }
static float gaussian(void) {
    float u = uniform() + 1e-7f, v = uniform();
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

/* Row r of the float input (n values): each row a different kind. */
static void fill_row(float *x, int n, int r) {
    for (int i = 0; i < n; ++i) {
        float g = gaussian();
        switch (r % 8) {
            case 0: x[i] = 0.02f * g; break;
            case 1: x[i] = 0.01f * g / (0.05f + fabsf(gaussian())); break; /* heavy tails */
            case 2: x[i] = 0.0f; break;
            case 3: x[i] = (i % 2) ? -0.0f : 0.0f; break;
            case 4: x[i] = 0.75f; break;
            case 5: x[i] = 1000.0f * g; break;
            case 6: x[i] = 1e-6f * g; break;
            default: x[i] = (i % 7 == 0) ? 30.0f * g : 0.05f * g; break; /* outliers */
        }
    }
}

static int write_file(const char *dir, const char *name, const char *ext, const void *data, size_t size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    return fclose(f) != 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    const enum ggml_type types[] = {GGML_TYPE_Q2_K, GGML_TYPE_Q3_K,  GGML_TYPE_Q4_K,  GGML_TYPE_Q5_K,
                                    GGML_TYPE_Q6_K, GGML_TYPE_Q8_K,  GGML_TYPE_TQ1_0, GGML_TYPE_TQ2_0,
                                    GGML_TYPE_IQ4_NL, GGML_TYPE_IQ4_XS, GGML_TYPE_MXFP4, GGML_TYPE_NVFP4,
                                    GGML_TYPE_Q1_0, GGML_TYPE_Q2_0, GGML_TYPE_IQ2_XXS,
                                    GGML_TYPE_IQ2_XS, GGML_TYPE_IQ2_S, GGML_TYPE_IQ3_XXS,
                                    GGML_TYPE_IQ3_S, GGML_TYPE_IQ1_S, GGML_TYPE_IQ1_M};
    const int rows = 8, n = 256, random_blocks = 32;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; ++t) {
        const enum ggml_type type = types[t];
        const struct ggml_type_traits *traits = ggml_get_type_traits(type);
        const int64_t block = ggml_blck_size(type);
        const size_t block_bytes = ggml_type_size(type);
        const size_t row_bytes = ggml_row_size(type, n);
        /* Q8_K is llama.cpp's dot-product operand: ggml has no public quantizer for it, so its
         * blocks are random bytes alone, each with a finite float d. */
        const size_t quantized = type == GGML_TYPE_Q8_K ? 0 : row_bytes * rows;
        const size_t total = quantized + random_blocks * block_bytes;
        uint8_t *blocks = malloc(total);
        float *x = malloc(sizeof(float) * n * rows);
        for (int r = 0; r < rows; ++r)
            fill_row(x + r * n, n, r);
        /* The grid i-quants get importance weights (some insist on them): positive, uneven. */
        float importance[256];
        const int grid = type == GGML_TYPE_IQ2_XXS || type == GGML_TYPE_IQ2_XS || type == GGML_TYPE_IQ2_S ||
                         type == GGML_TYPE_IQ3_XXS || type == GGML_TYPE_IQ3_S || type == GGML_TYPE_IQ1_S ||
                         type == GGML_TYPE_IQ1_M;
        for (int i = 0; grid && i < n; ++i)
            importance[i] = 0.1f + uniform();
        const float *weights = grid ? importance : NULL;
        ggml_quantize_init(type);
        if (quantized && ggml_quantize_chunk(type, x, blocks, 0, rows, n, weights) != quantized) {
            fprintf(stderr, "%s: unexpected size\n", traits->type_name);
            return 1;
        }
        for (size_t i = quantized; i < total; ++i)
            blocks[i] = (uint8_t)next();
        if (type == GGML_TYPE_Q8_K)
            for (size_t b = 0; b < total / block_bytes; ++b) {
                const float d = 0.01f * gaussian();
                memcpy(blocks + b * block_bytes, &d, sizeof d);
            }
        const int64_t values = (int64_t)(total / block_bytes) * block;
        float *y = malloc(sizeof(float) * values);
        if (type == GGML_TYPE_Q8_K)
            dequantize_row_q8_K(blocks, y, values);
        else
            traits->to_float(blocks, y, values);
        if (write_file(argv[1], traits->type_name, "blocks", blocks, total) ||
            write_file(argv[1], traits->type_name, "values", y, sizeof(float) * values))
            return 1;
        printf("%s: %lld values in %zu bytes\n", traits->type_name, (long long)values, total);
        free(blocks);
        free(x);
        free(y);
    }
    return 0;
}
