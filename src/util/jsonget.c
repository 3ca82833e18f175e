/* jsonget — case-insensitive member lookup (see jsonget.h). */
#include "util/jsonget.h"

#include <strings.h>

json_t *hd_json_get_ci(const json_t *obj, const char *name)
{
    if (!json_is_object(obj)) return NULL;
    json_t *v = json_object_get(obj, name);
    if (v) return v;
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)obj, key, val)
    {
        if (!strcasecmp(key, name)) return val;
    }
    return NULL;
}
