/* jsonget — reading a member of a JSON object the way Go's encoding/json
 * (and so Consul's decoder) matches field names: case-insensitively. */
#ifndef HD_JSONGET_H
#define HD_JSONGET_H

#include <jansson.h>

/* The member of object obj named name in any case ("interval" finds
 * "Interval"), the exact spelling first. NULL when absent or obj is not
 * an object. */
json_t *hd_json_get_ci(const json_t *obj, const char *name);

#endif
