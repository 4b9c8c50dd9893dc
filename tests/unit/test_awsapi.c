/* Unit tests for the EC2 Query API layer (providers/aws_api.c): every
 * response shape skyfs reads and the error document, parsed from the
 * documented XML, and the one table that maps error codes to what the
 * provider does. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "providers/aws_api.h"

#define NS "xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\""

static xmlDoc *parse_ok(const char *xml)
{
	struct aws_error e = { 0 };
	xmlDoc *doc = NULL;

	assert_int_equal(aws_parse_answer(xml, strlen(xml), 200, &doc, &e), 0);
	assert_non_null(doc);
	return doc;
}

static void test_run_instances(void **state)
{
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<RunInstancesResponse " NS ">\n"
		" <requestId>8f1c-1</requestId>\n"
		" <reservationId>r-0a1</reservationId><ownerId>123456789012</ownerId>\n"
		" <groupSet/>\n"
		" <instancesSet><item>\n"
		"  <instanceId>i-0abc1234567890def</instanceId><imageId>ami-12345678</imageId>\n"
		"  <instanceState><code>0</code><name>pending</name></instanceState>\n"
		"  <instanceType>g5.xlarge</instanceType><instanceLifecycle>spot</instanceLifecycle>\n"
		"  <tagSet><item><key>skyfs:pool</key><value>train-1a2b3c4d</value></item>\n"
		"   <item><key>skyfs:node</key><value>3</value></item></tagSet>\n"
		" </item></instancesSet>\n"
		"</RunInstancesResponse>\n";
	struct aws_instance *in = NULL;
	size_t n = 0;
	xmlDoc *doc = parse_ok(xml);

	(void)state;
	assert_int_equal(aws_parse_instances(doc, &in, &n, NULL, 0), 0);
	assert_int_equal(n, 1);
	assert_string_equal(in[0].id, "i-0abc1234567890def");
	assert_string_equal(in[0].type, "g5.xlarge");
	assert_string_equal(in[0].state, "pending");
	assert_int_equal(in[0].state_code, 0);
	assert_int_equal(in[0].spot, 1);
	assert_string_equal(in[0].public_ip, "");
	assert_string_equal(in[0].pool_tag, "train-1a2b3c4d");
	assert_int_equal(in[0].rank, 3);
	free(in);
	xmlFreeDoc(doc);
}

static void test_describe_instances(void **state)
{
	static const char xml[] =
		"<DescribeInstancesResponse " NS ">\n"
		" <requestId>8f1c-2</requestId>\n"
		" <reservationSet>\n"
		"  <item><reservationId>r-0a1</reservationId><instancesSet>\n"
		"   <item><instanceId>i-0000000000000000a</instanceId>\n"
		"    <instanceState><code>16</code><name>running</name></instanceState>\n"
		"    <privateIpAddress>172.31.5.9</privateIpAddress><ipAddress>3.90.1.2</ipAddress>\n"
		"    <instanceType>p4d.24xlarge</instanceType></item>\n"
		"   <item><instanceId>i-0000000000000000b</instanceId>\n"
		"    <instanceState><code>80</code><name>terminated</name></instanceState>\n"
		"    <instanceLifecycle>spot</instanceLifecycle>\n"
		"    <stateReason><code>Server.SpotInstanceTermination</code>\n"
		"     <message>Server.SpotInstanceTermination: Spot instance termination</message>"
		"    </stateReason></item>\n"
		"  </instancesSet></item>\n"
		"  <item><reservationId>r-0a2</reservationId><instancesSet>\n"
		"   <item><instanceId>i-0000000000000000c</instanceId>\n"
		"    <instanceState><code>272</code><name>pending</name></instanceState></item>\n"
		"  </instancesSet></item>\n"
		" </reservationSet>\n"
		" <nextToken>page-2</nextToken>\n"
		"</DescribeInstancesResponse>";
	struct aws_instance *in = NULL;
	char token[64];
	size_t n = 0;
	xmlDoc *doc = parse_ok(xml);

	(void)state;
	assert_int_equal(aws_parse_instances(doc, &in, &n, token, sizeof(token)), 0);
	assert_int_equal(n, 3);
	assert_string_equal(token, "page-2");
	assert_string_equal(in[0].public_ip, "3.90.1.2");
	assert_string_equal(in[0].private_ip, "172.31.5.9");
	assert_int_equal(in[0].state_code, 16);
	assert_int_equal(in[0].spot, 0);
	assert_int_equal(in[0].rank, -1);
	assert_string_equal(in[1].reason_code, "Server.SpotInstanceTermination");
	assert_int_equal(in[1].spot, 1);
	/* the high byte of the code is EC2-internal */
	assert_int_equal(in[2].state_code, 16 & 0xff ? 272 & 0xff : 0);
	assert_string_equal(in[2].id, "i-0000000000000000c");
	free(in);
	xmlFreeDoc(doc);
}

static void test_terminate(void **state)
{
	static const char xml[] =
		"<TerminateInstancesResponse " NS "><requestId>x</requestId><instancesSet>\n"
		" <item><instanceId>i-0000000000000000a</instanceId>\n"
		"  <currentState><code>32</code><name>shutting-down</name></currentState>\n"
		"  <previousState><code>16</code><name>running</name></previousState></item>\n"
		"</instancesSet></TerminateInstancesResponse>";
	struct aws_instance *in = NULL;
	size_t n = 0;
	xmlDoc *doc = parse_ok(xml);

	(void)state;
	assert_int_equal(aws_parse_terminating(doc, &in, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(in[0].state, "shutting-down");
	assert_int_equal(in[0].state_code, 32);
	free(in);
	xmlFreeDoc(doc);
}

static void test_spot_prices(void **state)
{
	static const char xml[] =
		"<DescribeSpotPriceHistoryResponse " NS "><requestId>x</requestId>\n"
		"<spotPriceHistorySet>\n"
		" <item><instanceType>g5.xlarge</instanceType><productDescription>Linux/UNIX"
		"</productDescription><spotPrice>0.401200</spotPrice>"
		"<timestamp>2026-11-29T05:00:00.000Z</timestamp>"
		"<availabilityZone>us-east-1a</availabilityZone></item>\n"
		" <item><instanceType>g5.xlarge</instanceType><spotPrice>not-a-price</spotPrice>"
		"</item>\n"
		" <item><instanceType>p3.2xlarge</instanceType><spotPrice>0.9180</spotPrice>"
		"<timestamp>2026-11-29T04:00:00Z</timestamp>"
		"<availabilityZone>us-east-1b</availabilityZone></item>\n"
		"</spotPriceHistorySet><nextToken/></DescribeSpotPriceHistoryResponse>";
	struct aws_spot_price *sp = NULL;
	char token[64] = "stale";
	size_t n = 0;
	xmlDoc *doc = parse_ok(xml);

	(void)state;
	assert_int_equal(aws_parse_spot_prices(doc, &sp, &n, token, sizeof(token)), 0);
	assert_string_equal(token, "");
	assert_int_equal(n, 2);   /* the row without a price is no offer */
	assert_string_equal(sp[0].type, "g5.xlarge");
	assert_string_equal(sp[0].zone, "us-east-1a");
	assert_true(sp[0].price > 0.4011 && sp[0].price < 0.4013);
	assert_int_equal(sp[0].when, 1795928400LL);
	assert_string_equal(sp[1].type, "p3.2xlarge");
	free(sp);
	xmlFreeDoc(doc);
}

static void test_images_and_root_text(void **state)
{
	static const char xml[] =
		"<DescribeImagesResponse " NS "><requestId>x</requestId><imagesSet>\n"
		" <item><imageId>ami-00000001</imageId><name>DLAMI 20260101</name>"
		"<creationDate>2026-01-01T00:00:00.000Z</creationDate>"
		"<imageState>available</imageState></item>\n"
		" <item><imageId>ami-00000003</imageId><name>DLAMI 20261101</name>"
		"<creationDate>2026-11-01T00:00:00.000Z</creationDate>"
		"<imageState>available</imageState></item>\n"
		" <item><imageId>ami-00000004</imageId><name>DLAMI 20261120</name>"
		"<creationDate>2026-11-20T00:00:00.000Z</creationDate>"
		"<imageState>pending</imageState></item>\n"
		" <item><imageId>ami-00000002</imageId><name>DLAMI 20260601</name>"
		"<creationDate>2026-06-01T00:00:00.000Z</creationDate></item>\n"
		"</imagesSet></DescribeImagesResponse>";
	static const char group[] =
		"<CreateSecurityGroupResponse " NS "><requestId>x</requestId><return>true</return>"
		"<groupId>sg-0123456789abcdef0</groupId></CreateSecurityGroupResponse>";
	char id[32], name[64], gid[32];
	xmlDoc *doc = parse_ok(xml);

	(void)state;
	assert_int_equal(aws_parse_newest_image(doc, id, sizeof(id), name, sizeof(name)), 0);
	assert_string_equal(id, "ami-00000003");    /* the newest that is available */
	assert_string_equal(name, "DLAMI 20261101");
	xmlFreeDoc(doc);
	doc = parse_ok("<DescribeImagesResponse " NS "><imagesSet/></DescribeImagesResponse>");
	assert_int_equal(aws_parse_newest_image(doc, id, sizeof(id), NULL, 0), -ENOENT);
	xmlFreeDoc(doc);
	doc = parse_ok(group);
	aws_xml_root_text(doc, "groupId", gid, sizeof(gid));
	assert_string_equal(gid, "sg-0123456789abcdef0");
	aws_xml_root_text(doc, "keyPairId", gid, sizeof(gid));
	assert_string_equal(gid, "");
	xmlFreeDoc(doc);
}

static void test_error_document(void **state)
{
	static const char xml[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<Response><Errors><Error><Code>InsufficientInstanceCapacity</Code>"
		"<Message>We currently do not have sufficient g5.xlarge capacity.</Message>"
		"</Error></Errors><RequestID>ea966190-f9aa-478e-9ede-cb5432daacc0</RequestID>"
		"</Response>";
	struct aws_error e = { 0 };
	xmlDoc *doc = NULL;

	(void)state;
	assert_int_equal(aws_parse_answer(xml, strlen(xml), 500, &doc, &e), -EIO);
	assert_null(doc);
	assert_string_equal(e.code, "InsufficientInstanceCapacity");
	assert_string_equal(e.message, "We currently do not have sufficient g5.xlarge capacity.");
	assert_int_equal(e.kind, SKY_API_CAPACITY);
	assert_int_equal(e.http_status, 500);
	assert_int_equal(sky_api_errno(e.kind), -EAGAIN);

	memset(&e, 0, sizeof(e));
	assert_int_equal(aws_parse_answer("<html>busy</html", 17, 503, &doc, &e), -EBADMSG);
	assert_int_equal(e.kind, SKY_API_THROTTLE);
	memset(&e, 0, sizeof(e));
	/* an entity must never be expanded or fetched */
	static const char xxe[] =
		"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
		"<Response><Errors><Error><Code>AuthFailure</Code><Message>&x;</Message>"
		"</Error></Errors></Response>";
	assert_int_equal(aws_parse_answer(xxe, strlen(xxe), 401, &doc, &e), -EIO);
	assert_null(strstr(e.message, "root:"));
	assert_int_equal(e.kind, SKY_API_AUTH);
}

static void test_classify(void **state)
{
	static const struct {
		const char *code;
		long status;
		enum sky_api_kind kind;
		int err;
	} cases[] = {
		{ "InsufficientInstanceCapacity", 500, SKY_API_CAPACITY, -EAGAIN },
		{ "InsufficientHostCapacity", 500, SKY_API_CAPACITY, -EAGAIN },
		{ "SpotMaxPriceTooLow", 400, SKY_API_PRICE, -EAGAIN },
		{ "MaxSpotInstanceCountExceeded", 400, SKY_API_QUOTA, -EAGAIN },
		{ "VcpuLimitExceeded", 400, SKY_API_QUOTA, -EAGAIN },
		{ "InstanceLimitExceeded", 400, SKY_API_QUOTA, -EAGAIN },
		{ "RequestLimitExceeded", 503, SKY_API_THROTTLE, -ETIMEDOUT },
		{ "", 503, SKY_API_THROTTLE, -ETIMEDOUT },
		{ "InternalError", 500, SKY_API_SERVER, -EREMOTEIO },
		{ "", 502, SKY_API_SERVER, -EREMOTEIO },
		{ "AuthFailure", 401, SKY_API_AUTH, -EACCES },
		{ "UnauthorizedOperation", 403, SKY_API_AUTH, -EACCES },
		{ "SignatureDoesNotMatch", 403, SKY_API_AUTH, -EACCES },
		{ "InvalidInstanceID.NotFound", 400, SKY_API_NOTFOUND, -ENOENT },
		{ "InvalidKeyPair.Duplicate", 400, SKY_API_DUPLICATE, -EEXIST },
		{ "InvalidGroup.Duplicate", 400, SKY_API_DUPLICATE, -EEXIST },
		{ "DependencyViolation", 400, SKY_API_DEPENDENCY, -EBUSY },
		{ "InvalidParameterValue", 400, SKY_API_CLIENT, -EIO },
		{ NULL, 0, SKY_API_NETWORK, -ETIMEDOUT },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum sky_api_kind k = aws_err_classify(cases[i].code, cases[i].status);

		if (k != cases[i].kind)
			fail_msg("%s/%ld: kind %d, want %d", cases[i].code ? cases[i].code : "(none)",
				 cases[i].status, k, cases[i].kind);
		assert_int_equal(sky_api_errno(k), cases[i].err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_run_instances),
		cmocka_unit_test(test_describe_instances),
		cmocka_unit_test(test_terminate),
		cmocka_unit_test(test_spot_prices),
		cmocka_unit_test(test_images_and_root_text),
		cmocka_unit_test(test_error_document),
		cmocka_unit_test(test_classify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
