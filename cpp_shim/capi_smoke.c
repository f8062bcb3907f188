/* Smoke test of the etvk C ABI from plain C99 (also checks that include/etvk.h is valid C).
 * Built as build/etvk_capi_smoke and run by `make test`; exits non-zero on failure.
 * Usage: etvk_capi_smoke [DELEGATE_BLOB]  (with a blob, only checks that init does not crash
 * and that a failure carries a message). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "etvk.h"

static int failures = 0;

#define CHECK(cond)                                                     \
    do {                                                                \
        if (!(cond)) {                                                  \
            fprintf(stderr, "capi_smoke: FAILED %s (line %d), last error: '%s'\n", #cond, \
                    __LINE__, etvk_last_error());                       \
            failures++;                                                 \
        }                                                               \
    } while (0)

int main(int argc, char **argv) {
    EtvkDelegate *d = (EtvkDelegate *)1;
    static const unsigned char garbage[64] = {0};
    EtvkTensor t;
    uint32_t rc;
    unsigned char one = 1;
    EtvkCompileSpec spec;

    printf("etvk_is_available: %s\n", etvk_is_available() ? "yes" : "no");

    /* Null handle. */
    CHECK(etvk_execute(NULL, NULL, 0, NULL, 0) == ETVK_STATUS_DELEGATE_INVALID_HANDLE);
    CHECK(strlen(etvk_last_error()) > 0);
    CHECK(etvk_read_output(NULL, 0, ETVK_DTYPE_ANY, NULL, 0) == ETVK_STATUS_DELEGATE_INVALID_HANDLE);
    CHECK(etvk_num_inputs(NULL) == 0 && etvk_num_outputs(NULL) == 0);
    etvk_destroy(NULL);
    CHECK(strcmp(etvk_last_error(), "") == 0);

    /* Bad arguments. */
    CHECK(etvk_init(NULL, 0, NULL, NULL, 0, &d) == ETVK_STATUS_INVALID_ARGUMENT);
    CHECK(d == NULL);
    CHECK(etvk_init(garbage, sizeof garbage, NULL, NULL, 0, NULL) == ETVK_STATUS_INVALID_ARGUMENT);
    spec.key = "force_fp16";
    spec.value = &one;
    spec.value_len = 1;
    rc = etvk_init(garbage, sizeof garbage, NULL, &spec, 1, &d);
    /* Not a VH00 blob: some error other than Ok, with a message, and no handle. */
    CHECK(rc != ETVK_STATUS_OK && d == NULL && strlen(etvk_last_error()) > 0);
    printf("garbage blob -> 0x%x: %s\n", (unsigned)rc, etvk_last_error());

    memset(&t, 0, sizeof t);
    t.dtype = ETVK_DTYPE_ANY;
    CHECK(sizeof t.sizes / sizeof t.sizes[0] == ETVK_MAX_DIMS);

    if (argc > 1) {
        FILE *f = fopen(argv[1], "rb");
        long n;
        void *blob;
        if (!f) {
            fprintf(stderr, "capi_smoke: cannot open %s\n", argv[1]);
            return 2;
        }
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        fseek(f, 0, SEEK_SET);
        blob = malloc((size_t)n);
        if (!blob || fread(blob, 1, (size_t)n, f) != (size_t)n) {
            return 2;
        }
        fclose(f);
        d = NULL;
        rc = etvk_init(blob, (size_t)n, NULL, NULL, 0, &d);
        free(blob); /* etvk must not reference the blob after init */
        printf("%s -> 0x%x %s\n", argv[1], (unsigned)rc, etvk_last_error());
        CHECK((rc == ETVK_STATUS_OK) == (d != NULL));
        CHECK(rc == ETVK_STATUS_OK || strlen(etvk_last_error()) > 0);
        if (d) {
            printf("inputs %zu outputs %zu\n", etvk_num_inputs(d), etvk_num_outputs(d));
            /* Wrong arity is rejected without running. */
            CHECK(etvk_execute(d, NULL, 0, NULL, 0) == ETVK_STATUS_INVALID_ARGUMENT ||
                  (etvk_num_inputs(d) == 0 && etvk_num_outputs(d) == 0));
            etvk_destroy(d);
        }
    }

    if (failures) {
        fprintf(stderr, "capi_smoke: %d check(s) failed\n", failures);
        return 1;
    }
    printf("capi_smoke: ok\n");
    return 0;
}
