/* libFuzzer target: the EC2 answer parsers (providers/aws_api.c). The input
 * is an answer body: aws_parse_answer() reads it as XML (an error document
 * is classified by aws_err_classify()), and every response parser then
 * walks the document, whatever its shape. An optional first line "NNN"
 * (three digits) is the HTTP status the body came with (else 200), so that
 * both the success and the error paths are fuzzed. Corpus:
 * tests/fuzz/corpus/aws. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>

#include "providers/aws_api.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	xmlInitParser();
	return 0;
}

static void walk(xmlDoc *doc)
{
	struct aws_instance *in = NULL;
	struct aws_spot_price *sp = NULL;
	char token[256], id[64], name[128], text[64];
	size_t n = 0, i;

	if (aws_parse_instances(doc, &in, &n, token, sizeof(token)) == 0)
		for (i = 0; i < n; i++)
			if (!memchr(in[i].id, '\0', sizeof(in[i].id)) ||
			    in[i].state_code < 0 || in[i].state_code > 255)
				abort();
	free(in);
	in = NULL;
	n = 0;
	aws_parse_terminating(doc, &in, &n);
	free(in);
	n = 0;
	aws_parse_spot_prices(doc, &sp, &n, NULL, 0);
	for (i = 0; i < n; i++)
		if (!sp[i].type[0] || !(sp[i].price > 0))
			abort();
	free(sp);
	aws_parse_newest_image(doc, id, sizeof(id), name, sizeof(name));
	aws_xml_root_text(doc, "groupId", text, sizeof(text));
	aws_xml_root_text(doc, "keyPairId", text, sizeof(text));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aws_error e;
	xmlDoc *doc = NULL;
	long status = 200;
	int rc;

	if (size > (1 << 20))
		return 0;
	if (size >= 4 && data[3] == '\n' && data[0] >= '1' && data[0] <= '5' &&
	    data[1] >= '0' && data[1] <= '9' && data[2] >= '0' && data[2] <= '9') {
		status = (data[0] - '0') * 100 + (data[1] - '0') * 10 + (data[2] - '0');
		data += 4;
		size -= 4;
	}
	memset(&e, 0, sizeof(e));
	rc = aws_parse_answer((const char *)data, size, status, &doc, &e);
	if (rc == 0) {
		if (!doc)
			abort();
		walk(doc);
		xmlFreeDoc(doc);
	} else if ((rc != -EIO && rc != -EBADMSG) || doc || !e.message[0] ||
		   !memchr(e.code, '\0', sizeof(e.code)) || strchr(e.message, '\n')) {
		fprintf(stderr, "fuzz_aws: rc %d, code \"%s\", message \"%s\"\n", rc, e.code,
			e.message);
		abort();
	}
	return 0;
}
