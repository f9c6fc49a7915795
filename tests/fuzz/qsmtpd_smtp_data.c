/* qsmtpd's smtp_data.c, compiled here (see qsmtpd_smtp.c for why). */
#include "smtp_data.c"
