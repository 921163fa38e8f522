/*
 * read_folder.c - read back what `embedpipe embed -o DIR` wrote: how many rows,
 * and for the first few their record id, the first values and the length.
 *
 *   cc read_folder.c -lembedpipe -lm -o read_folder
 *   ./read_folder out/ 5
 *
 * Every shard is checked against the folder's manifest before its rows are
 * handed out (docs/api.md), so a damaged folder is an error, never wrong rows.
 */
#include <embedpipe.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [ROWS]\n", argv[0]);
        return 2;
    }
    ep_error err = {0};
    ep_folder *folder = NULL;
    if (ep_folder_open(argv[1], &folder, &err) != EP_OK) {
        fprintf(stderr, "read_folder: %s\n", err.message);
        return 1;
    }
    uint64_t rows = ep_folder_rows(folder), show = argc > 2 ? strtoull(argv[2], NULL, 10) : 3;
    int dim = ep_folder_dim(folder);
    if (show > rows) show = rows;
    printf("%s: %" PRIu64 " rows of %d dimensions by %s%s\n", argv[1], rows, dim, ep_folder_model(folder),
           ep_folder_complete(folder) ? "" : " (incomplete: an interrupted run or one --part)");
    float *row = malloc(sizeof(float) * (size_t)dim);
    int rc = row ? 0 : 1;
    for (uint64_t r = 0; r < show && rc == 0; r++) {
        const char *id = NULL;
        if (ep_folder_read(folder, r, 1, row, &err) != EP_OK || ep_folder_id(folder, r, &id, &err) != EP_OK) {
            fprintf(stderr, "read_folder: %s\n", err.message);
            rc = 1;
            break;
        }
        double norm = 0;
        for (int k = 0; k < dim; k++) norm += (double)row[k] * row[k];
        printf("%" PRIu64 "  id=%s  [%.4f %.4f %.4f ...]  |v|=%.4f\n", r, id, row[0], row[1 % dim], row[2 % dim],
               sqrt(norm));
    }
    free(row);
    ep_folder_close(folder);
    return rc;
}
