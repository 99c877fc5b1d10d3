package handlers

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"apisec/app/analytics"
)

// Analytics serves /analytics.
type Analytics struct {
	Analytics *analytics.Service
}

// Get handles GET /analytics.
func (h *Analytics) Get(c *gin.Context) (int, any, error) {
	st, err := h.Analytics.Stats(c.Request.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, gin.H{
		"users":    gin.H{"total": st.Users, "byRole": st.UsersByRole},
		"projects": gin.H{"total": st.Projects},
		"logins":   gin.H{"total": st.Logins, "last24h": st.LoginsLast24},
	}, nil
}
