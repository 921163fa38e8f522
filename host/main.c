/* main.c - the embedpipe command line (placeholder until the CLI lands). */
#include "embedpipe.h"
#include <stdio.h>
int main(void) { printf("embedpipe %s\n", ep_version()); return 0; }
