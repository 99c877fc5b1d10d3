package handlers

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"apisec/app/projects"
	"apisec/models"
)

// Projects serves /projects and /analytics.
type Projects struct {
	Projects *projects.Service
}

type project struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	OwnerID     string `json:"ownerId"`
	CreatedAt   string `json:"createdAt"` // RFC 3339, as userJSON
}

func projectJSON(p *models.Project) project {
	return project{ID: p.ID, Name: p.Name, Description: p.Description, OwnerID: p.OwnerID, CreatedAt: p.CreatedAt.Format(time.RFC3339Nano)}
}

// List handles GET /projects.
func (h *Projects) List(c *gin.Context) (int, any, error) {
	list, err := h.Projects.List(c.Request.Context())
	if err != nil {
		return 0, nil, err
	}
	out := make([]project, len(list))
	for i := range list {
		out[i] = projectJSON(&list[i])
	}
	return http.StatusOK, gin.H{"projects": out}, nil
}

type newProject struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Create handles POST /projects.
func (h *Projects) Create(c *gin.Context) (int, any, error) {
	id, err := caller(c)
	if err != nil {
		return 0, nil, err
	}
	var in newProject
	if err := bindJSON(c, &in); err != nil {
		return 0, nil, err
	}
	p, err := h.Projects.Create(c.Request.Context(), id, in.Name, in.Description)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, gin.H{"project": projectJSON(p)}, nil
}

// Delete handles DELETE /projects/:id.
func (h *Projects) Delete(c *gin.Context) (int, any, error) {
	if err := h.Projects.Delete(c.Request.Context(), c.Param("id")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// Analytics handles GET /analytics.
func (h *Projects) Analytics(c *gin.Context) (int, any, error) {
	st, err := h.Projects.Analytics(c.Request.Context())
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, gin.H{
		"users":    gin.H{"total": st.Users, "byRole": st.UsersByRole},
		"projects": gin.H{"total": st.Projects},
		"logins":   gin.H{"total": st.Logins, "last24h": st.LoginsLast24},
	}, nil
}
