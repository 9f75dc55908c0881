/* Encode goldens for QuantLens's ggml quantizers, made by ggml itself.
 *
 * Built by samples/ggml/make_encode_goldens.py against a ggml checkout compiled outside the
 * repository; only ggml's public ggml.h API is used. It writes, to the folder named on the
 * command line:
 *   input.f32       ROWS x N float rows of different kinds (Gaussian, heavy tails, zeros, ±0,
 *                   constants, huge and tiny values, exact ties, outliers, one dead column run);
 *   importance.f32  N per-column importance weights (as llama-imatrix's mean of x², with zeros);
 *   <type>.blocks          ggml_quantize_chunk(type, input, ..., imatrix = NULL)
 *   <type>.imatrix.blocks  the same with the importance weights, as llama-quantize --imatrix.
 * The grid i-quants (IQ2_XXS ... IQ1_M) are quantized a row at a time, each in a child process,
 * because ggml aborts on some inputs (no importance where it needs one; values whose weighted
 * errors overflow): for those, <type>[.imatrix].aborted holds one byte per row, 1 where ggml
 * aborted, and the row's blocks are zeros.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ggml.h"

enum { ROWS = 16, N = 512 };

static uint64_t state = 0x2545F4914F6CDD1Dull;
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

static void fill_row(float *x, int r) {
    for (int i = 0; i < N; ++i) {
        float g = gaussian();
        switch (r) {
            case 0: case 1: case 2: x[i] = 0.02f * g; break;
            case 3: x[i] = 0.01f * g / (0.05f + fabsf(gaussian())); break; /* heavy tails */
            case 4: x[i] = 0.0f; break;
            case 5: x[i] = (i % 2) ? -0.0f : 0.0f; break;
            case 6: x[i] = 0.75f; break;
            case 7: x[i] = -3.0f; break;
            case 8: x[i] = 1000.0f * g; break;
            case 9: x[i] = 1e-6f * g; break;
            case 10: x[i] = (float)((i % 17) - 8) / 8.0f; break;             /* exact ties */
            case 11: x[i] = (i % 7 == 0) ? 30.0f * g : 0.05f * g; break;     /* outliers */
            case 12: x[i] = 1e18f * g; break;                                 /* extreme */
            case 13: x[i] = (i / 32) % 3 == 0 ? 0.0f : 0.1f * g; break;       /* zero sub-blocks */
            case 14: x[i] = 0.02f * g + 0.05f; break;                          /* offset */
            default: x[i] = (i % 2 ? 1.0f : -1.0f) * (1.0f + 1e-3f * (float)(i % 5)); break;
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

/* Quantizes each row in a child process; aborted[r] = 1 where ggml aborted (blocks left zero). */
static int quantize_rows_forked(enum ggml_type type, const float *x, uint8_t *out, const float *imatrix,
                                uint8_t *aborted, const char *dir) {
    const size_t row_bytes = ggml_row_size(type, N);
    char path[1024];
    snprintf(path, sizeof path, "%s/row.tmp", dir);
    for (int r = 0; r < ROWS; ++r) {
        memset(out + r * row_bytes, 0, row_bytes);
        fflush(stdout);
        const pid_t child = fork();
        if (child == 0) {
            freopen("/dev/null", "w", stderr);
            uint8_t *row = malloc(row_bytes);
            ggml_quantize_chunk(type, x + r * N, row, 0, 1, N, imatrix);
            FILE *f = fopen(path, "wb");
            _exit(!f || fwrite(row, 1, row_bytes, f) != row_bytes || fclose(f) != 0);
        }
        int status = 0;
        if (child < 0 || waitpid(child, &status, 0) != child)
            return 1;
        aborted[r] = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (!aborted[r]) {
            FILE *f = fopen(path, "rb");
            if (!f || fread(out + r * row_bytes, 1, row_bytes, f) != row_bytes)
                return 1;
            fclose(f);
        }
    }
    remove(path);
    return 0;
}

static int is_grid_iquant(enum ggml_type type) {
    return type == GGML_TYPE_IQ2_XXS || type == GGML_TYPE_IQ2_XS || type == GGML_TYPE_IQ2_S ||
           type == GGML_TYPE_IQ3_XXS || type == GGML_TYPE_IQ3_S || type == GGML_TYPE_IQ1_S ||
           type == GGML_TYPE_IQ1_M;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
        return 2;
    }
    static float x[ROWS * N], importance[N];
    for (int r = 0; r < ROWS; ++r)
        fill_row(x + r * N, r);
    for (int i = 0; i < N; ++i)
        importance[i] = (i % 61 == 5) ? 0.0f : 0.5f * uniform() * uniform() + 1e-4f;
    if (write_file(argv[1], "input", "f32", x, sizeof x) ||
        write_file(argv[1], "importance", "f32", importance, sizeof importance))
        return 1;
    const enum ggml_type types[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1,
                                    GGML_TYPE_Q8_0, GGML_TYPE_Q2_K, GGML_TYPE_Q3_K, GGML_TYPE_Q4_K,
                                    GGML_TYPE_Q5_K, GGML_TYPE_Q6_K, GGML_TYPE_IQ4_NL, GGML_TYPE_IQ4_XS,
                                    GGML_TYPE_TQ1_0, GGML_TYPE_TQ2_0, GGML_TYPE_IQ2_XXS,
                                    GGML_TYPE_IQ2_XS, GGML_TYPE_IQ2_S, GGML_TYPE_IQ3_XXS,
                                    GGML_TYPE_IQ3_S, GGML_TYPE_IQ1_S, GGML_TYPE_IQ1_M};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; ++t) {
        const enum ggml_type type = types[t];
        const char *name = ggml_type_name(type);
        const size_t bytes = ggml_row_size(type, N) * ROWS;
        uint8_t *plain = malloc(bytes), *weighted = malloc(bytes);
        char weighted_name[64];
        snprintf(weighted_name, sizeof weighted_name, "%s.imatrix", name);
        if (is_grid_iquant(type)) {
            uint8_t aborted[ROWS], aborted_weighted[ROWS];
            ggml_quantize_init(type);
            if (quantize_rows_forked(type, x, plain, NULL, aborted, argv[1]) ||
                quantize_rows_forked(type, x, weighted, importance, aborted_weighted, argv[1]) ||
                write_file(argv[1], name, "blocks", plain, bytes) ||
                write_file(argv[1], weighted_name, "blocks", weighted, bytes) ||
                write_file(argv[1], name, "aborted", aborted, ROWS) ||
                write_file(argv[1], weighted_name, "aborted", aborted_weighted, ROWS))
                return 1;
            printf("%s: %zu bytes per run (grid i-quant, a row at a time)\n", name, bytes);
            free(plain);
            free(weighted);
            continue;
        }
        if (ggml_quantize_chunk(type, x, plain, 0, ROWS, N, NULL) != bytes ||
            ggml_quantize_chunk(type, x, weighted, 0, ROWS, N, importance) != bytes) {
            fprintf(stderr, "%s: unexpected size\n", name);
            return 1;
        }
        if (write_file(argv[1], name, "blocks", plain, bytes) ||
            write_file(argv[1], weighted_name, "blocks", weighted, bytes))
            return 1;
        printf("%s: %zu bytes per run\n", name, bytes);
        free(plain);
        free(weighted);
    }
    return 0;
}
