/* llama.cpp's logits for token-id sequences: the reference the engine's GGUF models are checked
 * against (samples/gguf_family_samples.py builds and runs it; it is not part of QuantLens).
 *
 *   eval_logits MODEL.gguf TOKENS SAMPLES < ids.i32 > logits.f32
 *
 * stdin: SAMPLES x TOKENS int32 token ids; stdout: SAMPLES x TOKENS x n_vocab float32 logits,
 * every position's, each sample decoded from an empty cache on one thread. With float32 weights
 * and a float32 cache the arithmetic is float32 throughout; flash attention is off. */
#include <stdio.h>
#include <stdlib.h>

#include "llama.h"

int main(int argc, char** argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL.gguf TOKENS SAMPLES < ids.i32 > logits.f32\n", argv[0]);
        return 2;
    }
    const int tokens = atoi(argv[2]), samples = atoi(argv[3]);
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    struct llama_model* model = llama_model_load_from_file(argv[1], mp);
    if (!model)
        return 1;
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)tokens;
    cp.n_batch = cp.n_ubatch = (uint32_t)tokens;
    cp.n_threads = cp.n_threads_batch = 1;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    cp.type_k = cp.type_v = GGML_TYPE_F32; /* the default F16 cache would round k and v */
    struct llama_context* ctx = llama_init_from_model(model, cp);
    if (!ctx)
        return 1;
    const int vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));
    struct llama_batch batch = llama_batch_init(tokens, 0, 1);
    for (int n = 0; n < samples; ++n) {
        llama_memory_clear(llama_get_memory(ctx), 1);
        batch.n_tokens = tokens;
        for (int t = 0; t < tokens; ++t) {
            int id = 0;
            if (fread(&id, sizeof id, 1, stdin) != 1)
                return 1;
            batch.token[t] = id;
            batch.pos[t] = t;
            batch.n_seq_id[t] = 1;
            batch.seq_id[t][0] = 0;
            batch.logits[t] = 1;
        }
        if (llama_decode(ctx, batch) != 0)
            return 1;
        for (int t = 0; t < tokens; ++t)
            fwrite(llama_get_logits_ith(ctx, t), sizeof(float), (size_t)vocab, stdout);
    }
    llama_batch_free(batch);
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
