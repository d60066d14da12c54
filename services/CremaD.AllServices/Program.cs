var builder = WebApplication.CreateBuilder(args);
builder.AddCremaDAllServices();
var app = builder.Build();
app.MapCremaDRunsApi();
app.Run();
