/*
 * A main() for the fuzz targets when libFuzzer is not there (the normal gcc
 * build, for "make check"): runs LLVMFuzzerTestOneInput over files, over
 * every file of a directory, or over a few built-in seeds.  With -m N it
 * also runs N deterministic mutations of each input, a cheap fuzzer for
 * builds without clang.  Every input is placed so that it ends right at an
 * inaccessible page: a read past its length crashes even without ASan.
 *
 * usage: fuzz_NAME [-m mutations] [-s seed] [file | directory ...]
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"

#define MAXINPUT	(1024 * 1024)
#define MUTMAX		4096		/* mutants grow no larger */

struct input {
	char	*name;
	uint8_t	*data;
	size_t	 len;
};

static struct input	*inputs;
static size_t		 ninputs;
static uint64_t		 rng = 0x9e3779b97f4a7c15ULL;
static const uint8_t	*cur;		/* the input being run, for crash() */
static size_t		 curlen;

static const char *const seeds[] = {
	"", "\n", "\r\n", " ", "a", "#", ".", "<>", "\r\n.\r\n",
	"key value\n", "x@y", "\0", "%", ":",
};

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Saves the input that crashed as ./crash-standalone, then dies of it. */
static void
crash(int sig)
{
	static const char	msg[] = "standalone: input saved as "
	    "./crash-standalone\n";
	int			fd;

	if (cur != NULL && (fd = open("crash-standalone",
	    O_WRONLY | O_CREAT | O_TRUNC, 0644)) != -1) {
		(void)!write(fd, cur, curlen);
		close(fd);
		(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Runs the target on a copy that ends at a PROT_NONE page. */
static void
run(const uint8_t *data, size_t len)
{
	static uint8_t	*map;
	static size_t	 maplen;
	size_t		 pg = (size_t)sysconf(_SC_PAGESIZE), need;

	need = (len + pg - 1) / pg * pg + pg;
	if (need > maplen) {
		if (map != NULL)
			munmap(map, maplen);
		map = mmap(NULL, need, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (map == MAP_FAILED) {
			perror("mmap");
			exit(2);
		}
		maplen = need;
		if (mprotect(map + maplen - pg, pg, PROT_NONE) == -1) {
			perror("mprotect");
			exit(2);
		}
	}
	if (len > 0)
		memcpy(map + maplen - pg - len, data, len);
	cur = map + maplen - pg - len;
	curlen = len;
	(void)LLVMFuzzerTestOneInput(cur, len);
	cur = NULL;
}

static void
add_input(const char *name, const uint8_t *data, size_t len)
{
	struct input	*n;

	if ((n = realloc(inputs, (ninputs + 1) * sizeof(*n))) == NULL ||
	    (n[ninputs].name = strdup(name)) == NULL ||
	    (n[ninputs].data = malloc(len + 1)) == NULL) {
		perror("malloc");
		exit(2);
	}
	inputs = n;
	if (len > 0)
		memcpy(inputs[ninputs].data, data, len);
	inputs[ninputs++].len = len;
}

static void
load_file(const char *path)
{
	static uint8_t	 buf[MAXINPUT + 1];
	FILE		*fp;
	size_t		 n;

	if ((fp = fopen(path, "rb")) == NULL) {
		perror(path);
		exit(2);
	}
	n = fread(buf, 1, sizeof(buf), fp);
	if (ferror(fp) || n > MAXINPUT) {
		fprintf(stderr, "%s: unreadable or larger than %d bytes\n",
		    path, MAXINPUT);
		exit(2);
	}
	fclose(fp);
	add_input(path, buf, n);
}

static int
cmp_names(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void
load_path(const char *path)
{
	struct dirent	**ents;
	struct stat	  st;
	char		  p[4096];
	int		  i, n;

	if (stat(path, &st) == -1) {
		perror(path);
		exit(2);
	}
	if (!S_ISDIR(st.st_mode)) {
		load_file(path);
		return;
	}
	if ((n = scandir(path, &ents, NULL, cmp_names)) == -1) {
		perror(path);
		exit(2);
	}
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.' &&
		    snprintf(p, sizeof(p), "%s/%s", path, ents[i]->d_name) <
		    (int)sizeof(p) && stat(p, &st) == 0 && S_ISREG(st.st_mode))
			load_file(p);
		free(ents[i]);
	}
	free(ents);
}

/* One to four edits of the kind that break parsers: CR, LF, quotes... */
static size_t
mutate(uint8_t *b, size_t len, size_t cap)
{
	static const char	 special[] = "\r\n\0 .<>@\"\\:%#/[]=+-,\t\x80\xff";
	const struct input	*o;
	size_t			 k, n, at, i;

	for (k = 1 + rnd() % 4; k > 0; k--) {
		at = len > 0 ? rnd() % (len + 1) : 0;
		switch (rnd() % 7) {
		case 0:			/* flip a bit */
			if (at < len)
				b[at] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 1:			/* overwrite with a special byte */
			if (at < len)
				b[at] = (uint8_t)special[rnd() %
				    (sizeof(special) - 1)];
			break;
		case 2:			/* insert a special byte */
			if (len < cap) {
				memmove(b + at + 1, b + at, len - at);
				b[at] = (uint8_t)special[rnd() %
				    (sizeof(special) - 1)];
				len++;
			}
			break;
		case 3:			/* delete a run */
			n = at < len ? 1 + rnd() % (len - at) % 16 : 0;
			memmove(b + at, b + at + n, len - at - n);
			len -= n;
			break;
		case 4:			/* duplicate a run */
			n = at < len ? 1 + rnd() % (len - at) % 64 : 0;
			if (n > cap - len)
				n = cap - len;
			memmove(b + at + n, b + at, len - at);
			len += n;
			break;
		case 5:			/* truncate */
			len = at;
			break;
		default:		/* splice in part of another input */
			o = &inputs[rnd() % ninputs];
			if (o->len == 0)
				break;
			i = rnd() % o->len;
			n = 1 + rnd() % (o->len - i);
			if (n > cap - len)
				n = cap - len;
			memmove(b + at + n, b + at, len - at);
			memcpy(b + at, o->data + i, n);
			len += n;
			break;
		}
	}
	return len;
}

int
main(int argc, char *argv[])
{
	static uint8_t	 mut[MUTMAX];
	unsigned long	 nmut = 0, j;
	size_t		 i, len, base;
	int		 c;

	while ((c = getopt(argc, argv, "m:s:")) != -1) {
		switch (c) {
		case 'm':
			nmut = strtoul(optarg, NULL, 10);
			break;
		case 's':
			rng = strtoull(optarg, NULL, 0) | 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-m mutations] [-s seed] "
			    "[file | directory ...]\n", argv[0]);
			return 2;
		}
	}
	signal(SIGABRT, crash);
	signal(SIGSEGV, crash);
	signal(SIGBUS, crash);
	for (c = optind; c < argc; c++)
		load_path(argv[c]);
	if (optind == argc)
		for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
			add_input("(built-in)", (const uint8_t *)seeds[i],
			    seeds[i][0] == '\0' && i > 0 ? 1 : strlen(seeds[i]));
	base = ninputs;
	for (i = 0; i < base; i++) {
		fprintf(stderr, "%s\n", inputs[i].name);
		run(inputs[i].data, inputs[i].len);
		for (j = 0; j < nmut; j++) {
			len = inputs[i].len < MUTMAX ? inputs[i].len : MUTMAX;
			memcpy(mut, inputs[i].data, len);
			len = mutate(mut, len, sizeof(mut));
			run(mut, len);
		}
	}
	printf("%s: %zu inputs, %lu mutations each: ok\n", argv[0], base,
	    nmut);
	for (i = 0; i < ninputs; i++) {
		free(inputs[i].name);
		free(inputs[i].data);
	}
	free(inputs);
	return 0;
}
